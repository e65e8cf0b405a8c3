"""The federation layer's error tree.

    FederationError               base; message is a sentence for the admin's status view
    ├── PeerUnreachable            connection failed or timed out
    ├── PeerRefused                the peer answered with an error status
    ├── PinMismatch                the peer's TLS certificate is not the pinned one
    ├── TransportNotAllowed        a URL we must not use (plain HTTP off loopback, ...)
    └── Unauthorised               an inbound request is not from a peer we serve

Protocol errors from a peer's bytes (protocol.errors.RemoteProtocolError) pass
through unchanged; the server maps them to 4xx with their ``status_hint``.
"""

from __future__ import annotations


class FederationError(Exception):
    status = 502

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class PeerUnreachable(FederationError):
    pass


class PeerRefused(FederationError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.peer_status = status


class PinMismatch(FederationError):
    pass


class TransportNotAllowed(FederationError):
    pass


class Unauthorised(FederationError):
    """An inbound request we refuse; ``status`` is 401 or 403."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status
