"""Key rotation statements: a node moves from its old key to a new one.

Rule: only ``verify_rotation`` makes a ``VerifiedRotation``, and only for a statement
that both keys signed: the old key signs the envelope (the node's authority to move),
and the new key signs the statement's core (proof that the node holds the new key, so
no one can rotate a node onto a key they copied from elsewhere). The two signatures
use different purpose tags, so neither can stand in for the other.

    core     = msgpack {"v": 1, "old": bin32, "new": bin32, "created": int}
    proof    = Ed25519(new, PROOF_PURPOSE || core)
    body     = msgpack {"v": 1, "old": bin32, "new": bin32, "created": int,
                        "proof": bin64}
    envelope = signing.Envelope of Kind.ROTATION, signed by old

A receiver rebuilds ``core`` from the decoded fields: the encoding is canonical, so
the bytes are the very ones the new key signed. The body may also carry ``ext`` and
``must_understand`` (protocol.extensions.pop_optional_ext); they are outside the core.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from .alert import coarsen_hour
from .encoding import pack
from .errors import BadSignature, InvalidField
from .extensions import OptionalExt as Ext
from .extensions import optional_ext_wire as ext_wire
from .extensions import pop_optional_ext as read_ext
from .fields import Reader, check_hour
from .limits import DEFAULT_LIMITS, MAX_CLOCK_SKEW_S, Limits
from .signing import KEY_BYTES, SIG_BYTES, Kind, Proof, Verified, decode_body, open_envelope, sign

VERSION = 1
PROOF_PURPOSE = b"alertnode:v2:rotation-proof:"
# After a rotation, the old key is retired once this long has passed since the
# statement's ``created``: alerts it signed later than ``created`` are refused
# (code ``retired_key``). Within it, they are still taken: in flight, or clock skew.
KEY_GRACE_S = 30 * 86400
RETIRED_KEY = "retired_key"
# Far beyond any real time, yet inside what datetime can represent (year 9999).
_MAX_TIME = 2**37


@dataclass(frozen=True, slots=True)
class RotationBody:
    """The signed content of a rotation statement."""

    old: bytes
    new: bytes
    created: int
    proof: bytes
    # Extensions (protocol.extensions.pop_optional_ext): signed by the old key, outside
    # the core.
    ext: Ext = ()

    def core_bytes(self) -> bytes:
        """What the new key signs."""
        return _core(self.old, self.new, self.created)

    def to_bytes(self) -> bytes:
        return pack(
            {
                "v": VERSION,
                "old": self.old,
                "new": self.new,
                "created": self.created,
                "proof": self.proof,
            }
            | ext_wire(self.ext)
        )


class VerifiedRotation(Verified[RotationBody]):
    """A rotation statement signed by both keys. Made only by ``verify_rotation``."""

    __slots__ = ()
    made_by = "verify_rotation()"

    @property
    def old(self) -> bytes:
        return self.body.old

    @property
    def new(self) -> bytes:
        return self.body.new


def _core(old: bytes, new: bytes, created: int) -> bytes:
    return pack({"v": VERSION, "old": old, "new": new, "created": created})


def _read_rotation(value: dict[str, object]) -> RotationBody:
    body = dict(value)
    ext = read_ext(body)
    r = Reader(body, "key rotation")
    r.integer("v", VERSION, VERSION)
    old = r.blob("old", KEY_BYTES)
    new = r.blob("new", KEY_BYTES)
    created = check_hour("created", r.integer("created", 0, _MAX_TIME))
    proof = r.blob("proof", SIG_BYTES)
    r.finish()
    assert old is not None and new is not None and proof is not None
    if old == new:
        raise InvalidField("new", "must differ from the old key")
    return RotationBody(old, new, created, proof, ext)


def verify_rotation(data: bytes, now: int, limits: Limits = DEFAULT_LIMITS) -> VerifiedRotation:
    """Check a rotation statement received as ``data`` at time ``now``.

    Raises LimitExceeded or MalformedObject for bytes that do not decode; BadSignature
    if the old key's or the new key's signature does not verify; InvalidField for a
    bad field, including an envelope signed by a key other than ``old``.
    """
    env = open_envelope(data, Kind.ROTATION, limits)
    body = _read_rotation(decode_body(env, limits))
    if body.old != env.signer:
        raise InvalidField("old", "is not the key that signed the rotation")
    try:
        nacl.signing.VerifyKey(body.new).verify(PROOF_PURPOSE + body.core_bytes(), body.proof)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        raise BadSignature("the new key's signature on the rotation does not verify") from None
    if body.created > now + MAX_CLOCK_SKEW_S:
        raise InvalidField("created", "is in the future; check this computer's clock")
    return VerifiedRotation(env, body, Proof(env, body))


def is_retired(rotated_at: int, created: int, now: int) -> bool:
    """Whether an alert ``created`` by a key rotated away from at ``rotated_at`` is
    refused at ``now``: signed after the rotation, once the grace period is over.

    Retractions are never refused this way: the old key still withdraws its own
    alerts (they live up to 365 days, longer than the grace period)."""
    return created > rotated_at and now >= rotated_at + KEY_GRACE_S


def sign_rotation(
    old_key: nacl.signing.SigningKey, new_key: nacl.signing.SigningKey, now: int
) -> VerifiedRotation:
    """Sign a statement moving ``old_key``'s node to ``new_key``, dated ``now``
    coarsened to the hour, and check it as a receiver would.

    Raises InvalidField if the two keys are the same.
    """
    old, new = bytes(old_key.verify_key), bytes(new_key.verify_key)
    created = coarsen_hour(now)
    proof = new_key.sign(PROOF_PURPOSE + _core(old, new, created)).signature
    body = RotationBody(old, new, created, proof)
    return verify_rotation(sign(Kind.ROTATION, body.to_bytes(), old_key).to_bytes(), now)
