"""Move statements: a node tells its peers the federation URLs it can now be reached
at (after a host dropped it or a domain was seized, it restored its backup elsewhere).

Rule: only ``verify_move`` makes a ``VerifiedMove``, for a statement signed by the
node key it names, with 1 to ``MAX_CARD_URLS`` URLs that each follow the card's URL
rules (docs/protocol.md section 9). A receiver replaces the URLs of that peer's card
with ``urls`` only when the statement is from that peer itself and ``created`` is
later than the last move it applied (``newer_than``), so an old statement cannot be
replayed to send the peer's traffic back to a seized address. Keys and TLS pins do not
change (pins change only by a pin statement).

    body     = msgpack {"v": 2, "node": bin32, "urls": [str, ...] (1..4, no repeats),
                        "created": int}
    envelope = signing.Envelope of Kind.MOVE (tag "alertnode:v2:move:"), signed by node
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.signing

from .card import MAX_CARD_URLS, check_url
from .encoding import pack
from .errors import InvalidField
from .fields import Reader
from .limits import DEFAULT_LIMITS, MAX_CLOCK_SKEW_S, Limits
from .signing import KEY_BYTES, Kind, Proof, Verified, decode_body, open_envelope, sign

VERSION = 2
# Far beyond any real time, yet inside what datetime can represent (year 9999).
_MAX_TIME = 2**37


@dataclass(frozen=True, slots=True)
class MoveBody:
    """The signed content of a move statement."""

    node: bytes
    urls: tuple[str, ...]
    created: int

    def to_bytes(self) -> bytes:
        return pack({"v": VERSION, "node": self.node, "urls": self.urls, "created": self.created})


class VerifiedMove(Verified[MoveBody]):
    """A move statement signed by the node it names. Made only by ``verify_move``."""

    __slots__ = ()
    made_by = "verify_move()"

    def newer_than(self, last_created: int | None) -> bool:
        """Whether this statement may replace one applied at ``last_created``."""
        return last_created is None or self.body.created > last_created


def _read(value: dict[str, object]) -> MoveBody:
    r = Reader(value, "move statement")
    r.integer("v", VERSION, VERSION)
    node = r.blob("node", KEY_BYTES)
    items = r.items("urls", MAX_CARD_URLS)
    if not items:
        raise InvalidField("urls", "must list at least one federation URL")
    urls = []
    for url in items:
        if not isinstance(url, str):
            raise InvalidField("urls", "each URL is text")
        urls.append(check_url("urls", url))
    if len(set(urls)) != len(urls):
        raise InvalidField("urls", "must not repeat a URL")
    created = r.integer("created", 0, _MAX_TIME)
    r.finish()
    assert node is not None
    return MoveBody(node, tuple(urls), created)


def verify_move(data: bytes, now: int, limits: Limits = DEFAULT_LIMITS) -> VerifiedMove:
    """Check a move statement received as ``data`` at time ``now``.

    Raises LimitExceeded, MalformedObject, BadSignature or InvalidField (including a
    statement signed by a key other than ``node``, or dated in the future).
    """
    env = open_envelope(data, Kind.MOVE, limits)
    body = _read(decode_body(env, limits))
    if body.node != env.signer:
        raise InvalidField("node", "is not the key that signed the move statement")
    if body.created > now + MAX_CLOCK_SKEW_S:
        raise InvalidField("created", "is in the future; check this computer's clock")
    return VerifiedMove(env, body, Proof(env, body))


def sign_move(key: nacl.signing.SigningKey, urls: tuple[str, ...], now: int) -> VerifiedMove:
    """Sign a statement that ``key``'s node is reached at ``urls`` from ``now`` on
    (``now`` exact, not coarsened: two moves in one hour must be ordered).

    Raises InvalidField for no URL, too many, a repeated one or one a card refuses.
    """
    body = MoveBody(bytes(key.verify_key), tuple(urls), now)
    return verify_move(sign(Kind.MOVE, body.to_bytes(), key).to_bytes(), now)
