"""TLS pin statements: a node tells its peers which TLS keys to accept from it.

Rule: only ``verify_pins`` makes a ``VerifiedPins``, for a statement signed by the
node key it names; a receiver replaces that peer's pin set with ``pins`` only when
``created`` is later than the last statement it applied (``newer_than``), so an old
statement cannot be replayed to bring back a retired key.

    body     = msgpack {"v": 2, "node": bin32, "pins": [bin32, ...] (1..4, sorted,
                        none repeated), "created": int}
    envelope = signing.Envelope of Kind.PINS, signed by node

A TLS key change is two statements: one listing the current and the next key's
SPKI hash, sent before the switch; one listing only the new key, sent after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.signing

from .card import MAX_CARD_PINS, PIN_BYTES
from .encoding import pack
from .errors import InvalidField
from .fields import Reader
from .limits import DEFAULT_LIMITS, MAX_CLOCK_SKEW_S, Limits
from .signing import KEY_BYTES, Kind, Proof, Verified, decode_body, open_envelope, sign

VERSION = 2
# Far beyond any real time, yet inside what datetime can represent (year 9999).
_MAX_TIME = 2**37


@dataclass(frozen=True, slots=True)
class PinsBody:
    """The signed content of a pin statement."""

    node: bytes
    pins: tuple[bytes, ...]
    created: int

    def to_bytes(self) -> bytes:
        return pack({"v": VERSION, "node": self.node, "pins": self.pins, "created": self.created})


class VerifiedPins(Verified[PinsBody]):
    """A pin statement signed by the node it names. Made only by ``verify_pins``."""

    __slots__ = ()
    made_by = "verify_pins()"

    def newer_than(self, last_created: int | None) -> bool:
        """Whether this statement may replace one applied at ``last_created``."""
        return last_created is None or self.body.created > last_created


def _read(value: dict[str, object]) -> PinsBody:
    r = Reader(value, "pin statement")
    r.integer("v", VERSION, VERSION)
    node = r.blob("node", KEY_BYTES)
    items = r.items("pins", MAX_CARD_PINS)
    if not items or not all(isinstance(p, bytes) and len(p) == PIN_BYTES for p in items):
        raise InvalidField("pins", f"must list 1 to {MAX_CARD_PINS} SPKI hashes of 32 bytes")
    pins: tuple[bytes, ...] = tuple(p for p in items if isinstance(p, bytes))
    if list(pins) != sorted(set(pins)):
        raise InvalidField("pins", "must be sorted and must not repeat a pin")
    created = r.integer("created", 0, _MAX_TIME)
    r.finish()
    assert node is not None
    return PinsBody(node, pins, created)


def verify_pins(data: bytes, now: int, limits: Limits = DEFAULT_LIMITS) -> VerifiedPins:
    """Check a pin statement received as ``data`` at time ``now``.

    Raises LimitExceeded, MalformedObject, BadSignature or InvalidField (including a
    statement signed by a key other than ``node``, or dated in the future).
    """
    env = open_envelope(data, Kind.PINS, limits)
    body = _read(decode_body(env, limits))
    if body.node != env.signer:
        raise InvalidField("node", "is not the key that signed the pin statement")
    if body.created > now + MAX_CLOCK_SKEW_S:
        raise InvalidField("created", "is in the future; check this computer's clock")
    return VerifiedPins(env, body, Proof(env, body))


def sign_pins(key: nacl.signing.SigningKey, pins: tuple[bytes, ...], now: int) -> VerifiedPins:
    """Sign a statement that ``key``'s node accepts exactly ``pins`` from ``now`` on
    (``now`` exact, not coarsened: two statements in one hour must be ordered).

    Raises InvalidField for an empty or oversized set or a pin of the wrong size.
    """
    body = PinsBody(bytes(key.verify_key), tuple(sorted(set(pins))), now)
    return verify_pins(sign(Kind.PINS, body.to_bytes(), key).to_bytes(), now)
