"""The node's own secrets: the key store (data key, signing keys), the sealing of rows
at rest, the TLS certificate, and the bounded pool every slow hash runs in.

Rule: key material lives only here and in the ``NodeKeys`` the composition root holds
while unlocked. May import node.errors, node.files and protocol/; nothing else in node/.
"""
