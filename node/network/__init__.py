"""The node's side of federation: its federation port and syncer (``Trust``), the
trust-list operations, pairing on the local network, cards and key rotation.

Rule: this package wires federation/ to the node's store and keys; policy lives in
federation.trust and the wire format in protocol/. May import federation/, protocol/,
node.keys, node.store and node.config; never node.web or node.commands.
"""
