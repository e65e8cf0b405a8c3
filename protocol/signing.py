"""Signed objects: the envelope every object crossing between nodes travels in.

Rule: a signature is checked before its body is decoded. The envelope names the
signer's key outside the body, so the check needs nothing from inside it; the body
decoder then insists that the body names the same key.

    envelope = msgpack [kind, signer_key(32), body(bin), sig(64)]
    sig      = Ed25519(signer, TAG[kind] || body)
    id       = SHA-256(TAG[kind] || body)

Each kind has its own domain tag, ``alertnode:v2:<kind>:``, so a signature made for
one kind can never be replayed as another, and nothing signed under protocol version 1
(whose tags began ``alertnode:v1:``) verifies under version 2.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

import nacl.exceptions
import nacl.signing

from .compact import Compact
from .encoding import pack, unpack
from .errors import BadSignature, LimitExceeded, LocalProtocolError, MalformedObject
from .limits import DEFAULT_LIMITS, Limits

B = TypeVar("B")

KEY_BYTES = 32
SIG_BYTES = 64
ID_BYTES = 32
# Every domain tag and purpose string of wire protocol version 2 begins with this.
TAG_PREFIX = b"alertnode:v2:"


class Kind(enum.Enum):
    """The kinds of signed object, each with its own domain tag."""

    ALERT = "alert"
    RETRACTION = "retraction"
    CARD = "card"
    ROTATION = "rotation"
    REQUEST = "request"
    PINS = "pins"
    MOVE = "move"

    @property
    def tag(self) -> bytes:
        return TAG_PREFIX + self.value.encode() + b":"


@dataclass(frozen=True, slots=True)
class Envelope(Compact):
    """A signed object as it travels: kind, signer key, exact body bytes, signature."""

    kind: Kind
    signer: bytes
    body: bytes
    sig: bytes
    # The exact bytes it arrived as (set by parse_envelope only), so that a receiver
    # stores and forwards what it received, never a re-encoding. Not an init field:
    # dataclasses.replace() gives a changed envelope no stale bytes.
    raw: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _id: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_id", object_id(self.kind, self.body))

    @property
    def id(self) -> bytes:
        return self._id

    def to_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return pack((self.kind.value, self.signer, self.body, self.sig))


@dataclass(frozen=True, slots=True, eq=False)
class Proof(Compact):
    """Issued by a verify function for one exact (envelope, body) pair.

    A ``Verified*`` object accepts only a proof issued for its own envelope and body
    (compared by identity), so ``dataclasses.replace()`` cannot carry a proof over to
    a body that was never verified.
    """

    envelope: Envelope
    body: object


def proven(proof: object, envelope: Envelope, body: object) -> bool:
    return isinstance(proof, Proof) and proof.envelope is envelope and proof.body is body


@dataclass(frozen=True, slots=True)
class Verified(Compact, Generic[B]):
    """An object whose signature and fields were checked: made only by its verify
    function, which issues the ``Proof`` for exactly this envelope and body. Each
    kind subclasses it (``VerifiedAlert``, ``VerifiedCard``...) and adds only names."""

    made_by: ClassVar[str] = "its verify function"
    envelope: Envelope
    body: B
    _proof: object = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if not proven(self._proof, self.envelope, self.body):
            raise LocalProtocolError(f"a {type(self).__name__} is made only by {self.made_by}")

    @property
    def id(self) -> bytes:
        return self.envelope.id


def object_id(kind: Kind, body: bytes) -> bytes:
    """SHA-256 of the kind's domain tag and the body: the object's id."""
    return hashlib.sha256(kind.tag + body).digest()


def sign(kind: Kind, body: bytes, signing_key: nacl.signing.SigningKey) -> Envelope:
    """Sign ``body`` as an object of ``kind``."""
    sig = signing_key.sign(kind.tag + body).signature
    return Envelope(kind, bytes(signing_key.verify_key), body, sig)


def check_signature(kind: Kind, signer: bytes, body: bytes, sig: bytes) -> None:
    """Raise BadSignature unless ``sig`` is ``signer``'s signature of ``body`` as ``kind``."""
    if len(signer) != KEY_BYTES or len(sig) != SIG_BYTES:
        raise BadSignature("signer key or signature has the wrong length")
    try:
        nacl.signing.VerifyKey(signer).verify(kind.tag + body, sig)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        raise BadSignature(f"the {kind.value} signature does not verify") from None


def parse_envelope(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Envelope:
    """Parse an envelope's framing (not its body, and not its signature).

    Raises LimitExceeded or MalformedObject.
    """
    if len(data) > limits.envelope_bytes:
        raise LimitExceeded(f"envelope of {len(data)} bytes exceeds {limits.envelope_bytes}")
    framing = Limits(
        envelope_bytes=limits.envelope_bytes,
        body_bytes=limits.envelope_bytes,
        str_bytes=32,
        bin_bytes=max(limits.body_bytes, SIG_BYTES),
        array_len=4,
        map_len=0,
        depth=1,
    )
    value = unpack(data, framing, max_bytes=limits.envelope_bytes)
    if not isinstance(value, tuple) or len(value) != 4:
        raise MalformedObject("an envelope is an array of four items")
    kind_s, signer, body, sig = value
    try:
        kind = Kind(kind_s)
    except ValueError:
        raise MalformedObject("unknown object kind") from None
    if not isinstance(signer, bytes) or len(signer) != KEY_BYTES:
        raise MalformedObject("signer key must be 32 bytes")
    if not isinstance(body, bytes):
        raise MalformedObject("body must be bytes")
    if len(body) > limits.body_bytes:
        raise LimitExceeded(f"body of {len(body)} bytes exceeds {limits.body_bytes}")
    if not isinstance(sig, bytes) or len(sig) != SIG_BYTES:
        raise MalformedObject("signature must be 64 bytes")
    env = Envelope(kind, signer, body, sig)
    # unpack() checked that re-packing gives ``data`` back, so ``raw`` is canonical.
    object.__setattr__(env, "raw", data)
    return env


def open_envelope(data: bytes, expected: Kind, limits: Limits = DEFAULT_LIMITS) -> Envelope:
    """Parse an envelope of kind ``expected`` and check its signature.

    Raises LimitExceeded, MalformedObject or BadSignature.
    """
    return check_envelope(parse_envelope(data, limits), expected)


def check_envelope(env: Envelope, expected: Kind) -> Envelope:
    """``open_envelope`` of an envelope already parsed: its kind is ``expected`` and
    its signature verifies. Raises MalformedObject or BadSignature."""
    if env.kind is not expected:
        raise MalformedObject(f"expected a {expected.value}, got a {env.kind.value}")
    check_signature(env.kind, env.signer, env.body, env.sig)
    return env


def decode_body(env: Envelope, limits: Limits = DEFAULT_LIMITS) -> dict[str, object]:
    """Decode a (signature-checked) envelope's body into a map."""
    value = unpack(env.body, limits)
    if not isinstance(value, dict):
        raise MalformedObject(f"a {env.kind.value} body is a map")
    return value
