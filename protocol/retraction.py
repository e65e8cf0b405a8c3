"""Retractions: the v2 body with which an origin withdraws one of its alerts, its
validation, signing and verification.

Rule: only ``verify_retraction`` (and ``verify_retraction_envelope``, for an envelope
already parsed) makes a ``VerifiedRetraction``, with the same order of checks and the
same version and time rules as an alert (alert.py). Storage and relay accept nothing
else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nacl.signing

from .alert import MAX_TIME, VERSION, check_times
from .compact import Compact
from .encoding import pack
from .errors import InvalidField, LocalProtocolError
from .extensions import EMPTY, UNDERSTOOD, Extensions, read_extensions
from .fields import RETRACTION_REASONS, Reader, check_choice, check_hour
from .limits import DEFAULT_LIMITS, Limits
from .signing import (
    ID_BYTES,
    KEY_BYTES,
    Envelope,
    Kind,
    Proof,
    Verified,
    check_envelope,
    decode_body,
    open_envelope,
    parse_envelope,
    sign,
)


@dataclass(frozen=True, slots=True)
class RetractionBody(Compact):
    """The signed content of a retraction: the origin withdraws one of its alerts."""

    origin: bytes
    alert: bytes
    reason: str
    created: int
    expires: int
    ext: Extensions = field(default=EMPTY, kw_only=True)

    def to_bytes(self) -> bytes:
        return pack(
            {
                "v": VERSION,
                "origin": self.origin,
                "alert": self.alert,
                "reason": self.reason,
                "created": self.created,
                "expires": self.expires,
                **self.ext.wire(),
            }
        )


class VerifiedRetraction(Verified[RetractionBody]):
    """A retraction whose signature and fields were checked."""

    __slots__ = ()
    made_by = "verify_retraction()"


def _read_retraction(value: dict[str, object], understood: frozenset[str] | None) -> RetractionBody:
    r = Reader(value, "retraction")
    r.integer("v", VERSION, VERSION)
    origin = r.blob("origin", KEY_BYTES)
    alert = r.blob("alert", ID_BYTES)
    reason = check_choice("reason", r.raw("reason"), RETRACTION_REASONS)
    created = check_hour("created", r.integer("created", 0, MAX_TIME))
    expires = r.integer("expires", 0, MAX_TIME)
    ext = read_extensions(r.raw("ext"), r.raw("must_understand"), understood)
    r.finish()
    assert origin is not None and alert is not None
    return RetractionBody(origin, alert, reason, created, expires, ext=ext)


def verify_retraction(
    data: bytes,
    now: int,
    limits: Limits = DEFAULT_LIMITS,
    understood: frozenset[str] = UNDERSTOOD,
) -> VerifiedRetraction:
    """Check a retraction envelope received as ``data`` at time ``now``.

    Raises LimitExceeded, MalformedObject, BadSignature or InvalidField (its subclass
    UnsupportedExtension for a must-understand extension not in ``understood``).
    """
    return verify_retraction_envelope(parse_envelope(data, limits), now, limits, understood)


def verify_retraction_envelope(
    env: Envelope,
    now: int,
    limits: Limits = DEFAULT_LIMITS,
    understood: frozenset[str] = UNDERSTOOD,
) -> VerifiedRetraction:
    """``verify_retraction`` of an envelope ``parse_envelope`` already parsed."""
    check_envelope(env, Kind.RETRACTION)
    body = _read_retraction(decode_body(env, limits), understood)
    if body.origin != env.signer:
        raise InvalidField("origin", "is not the key that signed the retraction")
    check_times(body.created, body.expires, now)
    return VerifiedRetraction(env, body, Proof(env, body))


def sign_retraction(
    body: RetractionBody, key: nacl.signing.SigningKey, now: int
) -> VerifiedRetraction:
    """Sign a retraction with the origin's ``key``, checking it as a receiver would."""
    if body.origin != bytes(key.verify_key):
        raise LocalProtocolError("the retraction's origin is not the signing key")
    envelope = sign(Kind.RETRACTION, body.to_bytes(), key).to_bytes()
    return verify_retraction(envelope, now, understood=UNDERSTOOD | set(body.ext.must_understand))


def read_stored_retraction(data: bytes) -> RetractionBody:
    """Decode a retraction envelope this node verified when it stored it."""
    env = open_envelope(data, Kind.RETRACTION)
    return _read_retraction(decode_body(env, DEFAULT_LIMITS), None)
