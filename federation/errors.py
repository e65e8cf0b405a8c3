"""The federation layer's error tree.

Rule: every error federation/ raises on purpose is a ``FederationError`` and carries,
in ``status``, the HTTP status that best describes it, so the I/O layers map errors
to responses without knowing each class.

    FederationError               base (status 502); message is a sentence for the
    │                             admin's status view
    ├── PeerUnreachable            connection failed or timed out
    ├── PeerRefused                the peer answered with an error; ``status`` is its status
    ├── PinMismatch                the peer's TLS certificate is not the pinned one
    ├── TransportNotAllowed        a URL we must not use (plain HTTP off loopback, ...)
    ├── Unauthorised               an inbound request we refuse; ``status`` 401/403/409
    └── DiscoveryError             pairing discovery could not start (status 503)

Protocol errors from a peer's bytes (protocol.errors.RemoteProtocolError) pass
through unchanged; the server maps them to 4xx with their ``status``.
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
    """The peer answered with an error; ``status`` is the status it answered with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class PinMismatch(FederationError):
    pass


class TransportNotAllowed(FederationError):
    pass


class Unauthorised(FederationError):
    """An inbound request we refuse; ``status`` is 401, 403 or 409."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class DiscoveryError(FederationError):
    """Advertising for pairing could not start (no usable interface, bad address)."""

    status = 503
