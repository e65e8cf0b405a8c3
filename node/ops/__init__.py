"""Operations on a whole node: initialising one, backups and restores, the panic wipe,
background jobs, and the demo network.

Rule: each operation either works on a stopped node's files or is called by the
composition root (node.app) with exactly what it needs. May import node.keys,
node.store, node.config and protocol/; never node.web or node.commands.
"""
