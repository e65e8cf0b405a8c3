"""Peers and the trust policy: who we serve what, and what we accept from whom.

Rule: an alert travels only along trust edges and only while its hop count stays
within the limit its origin chose and the limit its TLP label sets (TLP 2.0: CLEAR and
GREEN within hops, AMBER and AMBER+STRICT to the origin's direct peers only, never
relayed, RED never leaves); nothing is served back to its origin or to the peer it came
from, under the peer's current or any previous key; a suspended peer gets nothing and
gives nothing. Every such decision is one of the pure functions here, so each has its
own test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from protocol.fields import TLP_MAX_HOPS, TLP_PARTNER_LABELS
from protocol.limits import MAX_HOPS

ACCEPT_MODES = ("none", "direct", "relay")


@dataclass(frozen=True, slots=True)
class Peer:
    key: bytes
    name: str
    urls: tuple[str, ...]
    # SHA-256 hashes of the TLS SubjectPublicKeyInfo the peer may present (any one).
    pins: tuple[bytes, ...]
    accept: str = "relay"
    share: bool = True
    suspended: bool = False
    proxy: str | None = None
    cursor: int = 0
    epoch: bytes | None = None
    # Keys this peer rotated away from: still its own, for "never back to its origin".
    previous: tuple[bytes, ...] = ()
    # The trust-list entry's own id: it stays through key rotations and is never
    # given to another peer, so rate limits and the replay window bind to it, not
    # to a key. 0 only for a stand-in that no trust list made (a client's view).
    entry_id: int = 0

    @property
    def keys(self) -> tuple[bytes, ...]:
        """The peer's current key and every key it rotated away from."""
        return (self.key, *self.previous)

    @property
    def short(self) -> str:
        """A short, loggable peer id (a key prefix, not the key)."""
        return self.key.hex()[:8]


class HeldLike(Protocol):
    """An alert held here, as a shorter path is weighed against it (hops.py)."""

    @property
    def origin(self) -> bytes: ...
    @property
    def hops(self) -> int: ...
    @property
    def max_hops(self) -> int: ...
    @property
    def tlp(self) -> str: ...


class Entry(HeldLike, Protocol):
    """What the serving side knows of one feed entry."""

    @property
    def kind(self) -> str: ...
    @property
    def received_from(self) -> bytes | None: ...
    @property
    def expires(self) -> int: ...


def may_serve(peer: Peer, entry: Entry, now: int) -> bool:
    """Whether ``peer`` is entitled to ``entry`` (an alert 'a' or retraction 'r')."""
    if peer.suspended or not peer.share:
        return False
    # Not back to its origin or to where it came from, under any key the peer had.
    if entry.expires <= now or entry.origin in peer.keys or entry.received_from in peer.keys:
        return False
    # The label caps the reach whatever hops says (an unknown label reaches no one);
    # a retraction carries its alert's label and goes wherever its alert could go.
    reach = min(entry.max_hops, TLP_MAX_HOPS.get(entry.tlp, 0))
    return entry.hops + 1 <= reach


def may_answer_partner_check(origin: bytes, own_key: bytes, tlp: str, partner_checks: bool) -> bool:
    """Whether an alert may answer a partner platform's check made at this node.

    The label must let it reach an organisation's clients (CLEAR, GREEN or AMBER; never
    AMBER+STRICT or RED), ours included; and another organisation's alert needs its
    origin's consent too (``partner_checks``, default no).
    """
    return tlp in TLP_PARTNER_LABELS and (origin == own_key or partner_checks)


def may_pull(peer: Peer) -> bool:
    return not peer.suspended and peer.accept != "none"


def may_accept_alert(peer: Peer, origin: bytes, own_key: bytes) -> bool:
    """Accept-policy on receipt: none, direct (only what the peer originated), relay."""
    if peer.suspended or origin == own_key:
        return False
    if peer.accept == "direct":
        return origin in peer.keys
    return peer.accept == "relay"


def received_hops(peer: Peer, origin: bytes, claimed_hops: int) -> int:
    """Our distance from the origin when ``peer`` says it holds an item at ``claimed_hops``.

    A peer that is the origin is one hop away. Any other peer is at least one hop from
    the origin, so we are at least two, whatever it claims: a relay that lies about
    hops can reset the count only to itself, never below.
    """
    if origin in peer.keys:
        return 1
    return min(max(claimed_hops + 1, 2), MAX_HOPS + 1)
