"""The node's one error tree.

    NodeError                      base; its message is one sentence a person can act on
    ├── UsageError                 a flag, form field or argument is not acceptable (400)
    ├── NotFound                   the named thing does not exist here (404)
    ├── Forbidden                  not allowed for this caller (403)
    ├── Locked                     the node waits for its passphrase (503)
    ├── WrongPassphrase            the passphrase does not open the key store (401)
    │   └── DuressPassphrase       it is the duress passphrase: the node wipes itself and
    │                              answers exactly as for a wrong one (never shown as such)
    ├── NotANode                   the data directory holds no node (or is damaged)
    ├── AlreadyInitialised         ``init`` on a directory that holds a node
    ├── AlreadyRunning             a second ``run`` on the same directory
    ├── NotRunning                 the control socket does not answer
    └── StoreError                 the store is damaged or a migration failed

Protocol errors (protocol.errors.ProtocolError) are mapped to ``UsageError`` where a
person caused them (a bad phone number) and to HTTP statuses where a peer did.
The CLI maps every NodeError to exit status ``exit_code`` and prints only the message.
"""

from __future__ import annotations


class NodeError(Exception):
    """Base of every error the node raises on purpose."""

    status = 500
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(NodeError):
    status = 400
    exit_code = 2


class NotFound(NodeError):
    status = 404


class Forbidden(NodeError):
    status = 403


class Locked(NodeError):
    status = 503


class WrongPassphrase(NodeError):
    status = 401


class DuressPassphrase(WrongPassphrase):
    """The duress passphrase was given. Only ``node.app.Node`` catches it (it wipes the
    node, then raises a plain WrongPassphrase with the same message); anything that
    does not know about duress answers it as the wrong passphrase it looks like."""


class NotANode(NodeError):
    pass


class AlreadyInitialised(NodeError):
    pass


class AlreadyRunning(NodeError):
    pass


class NotRunning(NodeError):
    pass


class StoreError(NodeError):
    pass
