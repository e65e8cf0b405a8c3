"""Shorter paths: lowering the hop count of an alert this node holds when a peer
offers it by a shorter path (docs/protocol.md section 10, "A shorter path").

Rule: a node's hop count for an alert is its distance from the origin by the best
path a peer has offered, counted as on receipt (``received_hops``: the origin is one
hop away, any other peer at least two), so a peer can lower it no further than it
could have set it by delivering the alert first. It only ever goes down, only for an
active, unexpired alert (never a tombstone: no resurrection), only from a peer whose
copies this node would accept (trust list, blocked origins), and only when the alert
may be relayed at the new count. No body is fetched: the envelope does not carry the
hop count, so the copy held is the copy offered. The lowered alert moves to a new
feed position and the node pokes its peers, so those that skipped it at the limit
take it now. Each alert can be lowered at most MAX_HOPS - 1 times on a node.
"""

from __future__ import annotations

from collections.abc import Sequence

from protocol.alert import VerifiedAlert
from protocol.feed import FeedEntry, IdEntry
from protocol.fields import TLP_MAX_HOPS

from .interfaces import FeedStore
from .trust import Peer, may_accept_alert, received_hops


async def take_shorter_paths(
    store: FeedStore,
    peer: Peer,
    own: bytes,
    entries: Sequence[FeedEntry | IdEntry],
    now: int,
) -> list[IdEntry]:
    """Lower the hop count of each alert among ``entries`` (held here) that ``peer``
    offers by a shorter path; the alerts lowered, at their new counts."""
    offered = {e.id: e.hops for e in entries if e.kind == "a"}
    if not offered:
        return []
    held = await store.held_hops(list(offered), now)
    lowered: list[tuple[bytes, int]] = []
    blocked: dict[bytes, bool] = {}
    for alert_id, claimed in offered.items():
        ours = held.get(alert_id)
        if ours is None:
            continue
        hops = received_hops(peer, ours.origin, claimed)
        # Not shorter, or still not relayable at the new count: nothing would change.
        if hops >= ours.hops or not relayable(ours.max_hops, ours.tlp, hops):
            continue
        if not may_accept_alert(peer, ours.origin, own):
            continue
        if ours.origin not in blocked:
            blocked[ours.origin] = await store.is_blocked(ours.origin)
        if blocked[ours.origin]:
            continue
        lowered.append((alert_id, hops))
    return await _lower(store, lowered, now)


def relayable(max_hops: int, tlp: str, hops: int) -> bool:
    """Whether an alert held at ``hops`` may go one hop further: its own limit and its
    label's reach (an unknown label reaches no one)."""
    return hops + 1 <= min(max_hops, TLP_MAX_HOPS.get(tlp, 0))


async def take_copies(
    store: FeedStore, copies: Sequence[tuple[VerifiedAlert, int]], now: int
) -> list[IdEntry]:
    """Take the count each copy of an alert held here offers (``hops`` as on receipt):
    a body fetched again, when two pulls fetched it at once. Admission has already
    checked the trust list and blocked origins for the peer that sent it, so it is an
    offer like any other; the alerts lowered, at their new counts."""
    offers = [(a.id, hops) for a, hops in copies if relayable(a.body.hops, a.body.tlp, hops)]
    return await _lower(store, offers, now)


async def _lower(store: FeedStore, offers: list[tuple[bytes, int]], now: int) -> list[IdEntry]:
    """Lower each (alert id, hop count) the store holds higher; those lowered."""
    done = set(await store.lower_hops(offers, now))
    return [IdEntry("a", alert_id, hops) for alert_id, hops in offers if alert_id in done]
