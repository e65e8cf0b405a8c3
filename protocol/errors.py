"""The protocol's one error tree.

    ProtocolError                      base; carries a message a person can act on
    ├── LocalProtocolError             we (or our caller) asked for something illegal
    │   └── InvalidIndicator           a phone/e-mail/handle/plate that cannot be normalised
    └── RemoteProtocolError            bytes from elsewhere are not acceptable
        ├── LimitExceeded              a size, length, count or nesting limit was hit
        ├── MalformedObject            not decodable, or not the shape we expect
        ├── BadSignature               the signature does not verify
        └── InvalidField               decoded, but a field's value is not allowed

Validation of a body is shared between building (local) and receiving (remote):
``InvalidField`` is raised for both, since the same rule is broken either way;
callers that build objects may catch ``ProtocolError``.

Each error carries ``status``: the HTTP status the I/O layer should answer with,
so federation/ can map errors to responses without this package knowing about HTTP.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of every error raised by protocol/."""

    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class LocalProtocolError(ProtocolError):
    """The caller asked for something the protocol does not allow."""

    status = 400


class InvalidIndicator(LocalProtocolError):
    """An indicator (phone, e-mail, handle, plate, other) cannot be normalised."""


class RemoteProtocolError(ProtocolError):
    """Bytes received from elsewhere are not acceptable."""

    status = 400


class LimitExceeded(RemoteProtocolError):
    """A size, length, count or nesting limit was exceeded."""

    status = 413


class MalformedObject(RemoteProtocolError):
    """The bytes do not decode, or decode to the wrong shape."""


class BadSignature(RemoteProtocolError):
    """A signature does not verify under the claimed key."""

    status = 403


class InvalidField(RemoteProtocolError):
    """A decoded field has a value the protocol does not allow."""

    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
