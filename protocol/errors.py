"""The protocol's one error tree.

Rule: every error carries a stable ``code`` (docs/protocol.md section 7) and a
``message`` written for a person that never quotes a library's own text; a program
decides what to do from the code, never from the message.

    ProtocolError                      base; code "malformed"
    ├── LocalProtocolError             we (or our caller) asked for something illegal
    │   └── InvalidIndicator           a phone/e-mail/handle/plate that cannot be normalised
    └── RemoteProtocolError            bytes from elsewhere are not acceptable
        ├── LimitExceeded              "too_large": a size, length, count or nesting limit
        ├── MalformedObject            "malformed": not decodable, or not the expected shape
        │   └── UnsupportedVersion     "unsupported_version": a version this node does not read
        ├── BadSignature               "bad_signature": the signature does not verify
        └── InvalidField               "invalid_field": a field's value is not allowed
            └── ClockSkew              "clock_skew": signed too far from the receiver's clock

Validation of a body is shared between building (local) and receiving (remote):
``InvalidField`` is raised for both, since the same rule is broken either way;
callers that build objects may catch ``ProtocolError``.

Each error carries ``status``: the HTTP status the I/O layer should answer with,
so federation/ can map errors to responses without this package knowing about HTTP.
``field`` names the one field at fault (``InvalidField``), else it is None.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of every error raised by protocol/."""

    status: int = 400
    code: str = "malformed"
    field: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class LocalProtocolError(ProtocolError):
    """The caller asked for something the protocol does not allow."""

    status = 400
    code = "invalid_request"


class InvalidIndicator(LocalProtocolError):
    """An indicator (phone, e-mail, handle, plate, other) cannot be normalised.

    ``reason`` is a stable code saying which rule it broke (``protocol.normalise.REASONS``,
    docs/protocol.md section 6), for programs and the golden vectors."""

    code = "invalid_field"

    def __init__(self, message: str, *, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


class RemoteProtocolError(ProtocolError):
    """Bytes received from elsewhere are not acceptable."""

    status = 400


class LimitExceeded(RemoteProtocolError):
    """A size, length, count or nesting limit was exceeded."""

    status = 413
    code = "too_large"


class MalformedObject(RemoteProtocolError):
    """The bytes do not decode, or decode to the wrong shape."""

    code = "malformed"


class UnsupportedVersion(MalformedObject):
    """A well-formed object of a protocol version this node does not read."""

    code = "unsupported_version"


class BadSignature(RemoteProtocolError):
    """A signature does not verify under the claimed key."""

    status = 401
    code = "bad_signature"


class InvalidField(RemoteProtocolError):
    """A decoded field has a value the protocol does not allow."""

    status = 422
    code = "invalid_field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class ClockSkew(InvalidField):
    """A request was signed further from the receiver's clock than the window allows."""

    status = 401
    code = "clock_skew"
