"""Admitting a pull's items: verification and the trust policy, item by item.

Rule: an item is stored only if it was asked for, verifies (signature, fields,
times; in the verification pool of verifier.py, or inline), and the trust list
accepts it from this peer: its origin is accepted from the peer (``direct``: only
the peer's own), not blocked, and (for an alert) not retired and within its hop
limit, and not an area warning while this node takes none; then the quotas
(federation/quota.py): for an alert, what this peer
delivered, what origins this node cannot name add up to and what one origin keeps;
for a retraction naming an alert not held here, the markers this peer left and all
markers together. A retraction of an alert held here must be signed by that alert's
origin; a retraction of this node's own alert never comes from a peer. Every refusal
is counted on the pull with its code (errors.CODES), never silently dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from protocol.alert import VerifiedAlert
from protocol.errors import ProtocolError
from protocol.feed import MAX_POKE_NEWS
from protocol.retraction import VerifiedRetraction
from protocol.rotation import RETIRED_KEY, is_retired
from protocol.warning import WARNING_EXT

from .errors import FederationError, ItemRefused
from .interfaces import FeedStore, PeerStore
from .news import News
from .quota import ORIGIN, Count, Counter, QuotaLedger, Quotas
from .trust import Peer, may_accept_alert, received_hops
from .verifier import Checked, Verifier

log = logging.getLogger(__name__)

Accepted = tuple[VerifiedAlert | VerifiedRetraction, int, bytes | None]


@dataclass
class OriginCache:
    """Per-pull answers about origins, so a pull asks the store once per origin."""

    blocked: dict[bytes, bool] = field(default_factory=dict)
    retired: dict[bytes, int | None] = field(default_factory=dict)
    # Every key of every peer (read once a pull, when an item first needs it).
    known: frozenset[bytes] | None = None
    # Shared counts this pull has read again on reaching their limit.
    recounted: set[Counter] = field(default_factory=set)
    # Alerts this pull admitted and may not have written yet, with their origins, by
    # id: a retraction naming one of them is no marker. ``written`` holds those since
    # stored; each admission drops them before it reads what the store holds.
    admitted: dict[bytes, bytes] = field(default_factory=dict)
    written: list[bytes] = field(default_factory=list)
    # New alerts this pull stored and not yet counted in the node's totals (counted
    # once a page, with the cursor save, not once a batch).
    uncounted: int = 0
    # What this pull added to our feed (stored or lowered), for the pokes it causes.
    news: News = field(default_factory=lambda: News(MAX_POKE_NEWS))


@dataclass
class PullResult:
    peer: str
    stored: int = 0
    refused: int = 0
    known: int = 0
    bodies: int = 0
    pages: int = 0
    # Items a bodies response left out: gone (not asked again), not served to us
    # (not asked again), cut for size (asked again at once).
    gone: int = 0
    not_yours: int = 0
    size_cut: int = 0
    error: str | None = None
    refusals: list[str] = field(default_factory=list)
    # The failure's code (errors.CODES), and how long the peer asked us to wait.
    error_code: str | None = None
    retry_after: int | None = None
    # The code of the last item refused in this pull.
    refusal_code: str | None = None
    # Alerts held here whose hop count this peer's shorter path lowered (hops.py).
    lowered: int = 0


class Admission:
    """The checks a pulled item passes before it is stored."""

    def __init__(
        self,
        store: FeedStore,
        peers: PeerStore,
        own: bytes,
        quotas: Quotas,
        ledger: QuotaLedger,
        verifier: Verifier,
        accepts_warnings: Callable[[], bool] = lambda: True,
    ) -> None:
        self._verifier = verifier
        # The organisation's choice (its area_warnings setting): when off, area
        # warnings (protocol/warning.py) are refused, neither stored nor relayed.
        self._accepts_warnings = accepts_warnings
        self._store = store
        self._peers = peers
        self._own = own
        self._quotas = quotas
        self._ledger = ledger

    async def admit(
        self,
        peer: Peer,
        items: Sequence[bytes],
        hops: dict[bytes, int],
        result: PullResult,
        cache: OriginCache,
        now: int,
        checked: Sequence[Checked] | None = None,
    ) -> tuple[list[Accepted], list[Counter]]:
        """The items to store, with the hops they took to reach us and who brought them,
        and the quota counts they were admitted against (to ``QuotaLedger.settle`` once
        they are written); each refused item is counted on ``result``. ``checked``:
        the verifier's verdicts on ``items``, if they were checked ahead."""
        if checked is None:
            checked = await self._verifier.check(items, now)
        verified: list[tuple[VerifiedAlert | VerifiedRetraction, int]] = []
        for item_id, verdict in checked:
            claimed = hops.get(item_id) if item_id is not None else None
            if item_id is not None and claimed is None:
                exc: FederationError = ItemRefused(
                    "not_asked", "the peer sent something that was not asked for"
                )
            elif isinstance(verdict, tuple):
                exc = ItemRefused(*verdict)
            else:
                assert claimed is not None
                verified.append((verdict, claimed))
                continue
            self._refused(peer, result, exc)
        # Alerts written since the last admission are in the store's answer below.
        for alert_id in cache.written:
            cache.admitted.pop(alert_id, None)
        cache.written.clear()
        held = await self._store.alert_origins(
            [item.body.alert for item, _ in verified if isinstance(item, VerifiedRetraction)]
        )
        accepted: list[Accepted] = []
        counted: list[Counter] = []
        for item, claimed in verified:
            try:
                if isinstance(item, VerifiedAlert):
                    our_hops, counters = await self._check_alert(peer, item, claimed, cache, now)
                else:
                    our_hops, counters = await self._check_retraction(
                        peer, item, claimed, held, cache, now
                    )
            except FederationError as exc:
                self._refused(peer, result, exc)
                continue
            counted += counters
            accepted.append((item, our_hops, peer.key))
        return accepted, counted

    @staticmethod
    def _refused(peer: Peer, result: PullResult, exc: ProtocolError | FederationError) -> None:
        result.refused += 1
        result.refusal_code = exc.code
        if len(result.refusals) < 10:
            result.refusals.append(str(exc))
        log.info("refused an item from peer %s (%s)", peer.short, exc.code)

    async def _check_origin(self, peer: Peer, origin: bytes, cache: OriginCache) -> None:
        """The trust list's word on an alert's or a retraction's origin."""
        if not may_accept_alert(peer, origin, self._own):
            raise ItemRefused("not_accepted", "not accepted from this peer by the trust list")
        if origin not in cache.blocked:
            cache.blocked[origin] = await self._store.is_blocked(origin)
        if cache.blocked[origin]:
            raise ItemRefused("blocked_origin", "its origin is blocked")

    async def _check_alert(
        self,
        peer: Peer,
        alert: VerifiedAlert,
        claimed: int,
        cache: OriginCache,
        now: int,
    ) -> tuple[int, list[Counter]]:
        """Our hop count for ``alert`` and the quota counts it takes, if it may be stored;
        raises ItemRefused. (A supersede of an alert not held leaves a marker too, but at
        most one per alert stored: the alert quotas bound those.)"""
        origin = alert.body.origin
        await self._check_origin(peer, origin, cache)
        if WARNING_EXT in alert.body.ext.must_understand and not self._accepts_warnings():
            raise ItemRefused("warnings_off", "this node does not take area warnings")
        if origin not in cache.retired:
            cache.retired[origin] = await self._peers.retired_at(origin)
        rotated_at = cache.retired[origin]
        if rotated_at is not None and is_retired(rotated_at, alert.body.created, now):
            raise ItemRefused(RETIRED_KEY, "signed by a key its node retired after rotating")
        our_hops = received_hops(peer, origin, claimed)
        if our_hops > alert.body.hops:
            raise ItemRefused("too_many_hops", "it travelled further than its hop limit")
        # The shared counts last: each is taken as it is checked (QuotaLedger.take).
        counters = [await self._origin_room(origin, cache, now)]
        counters += await self._taken_with(counters, self._peer_room(peer, cache, now))
        if origin not in await self._known(cache):
            counters += await self._taken_with(counters, self._unnamed_room(cache, now))
        cache.admitted[alert.id] = origin
        return our_hops, counters

    async def _check_retraction(
        self,
        peer: Peer,
        retraction: VerifiedRetraction,
        claimed: int,
        held: dict[bytes, bytes],
        cache: OriginCache,
        now: int,
    ) -> tuple[int, list[Counter]]:
        """Our hop count for ``retraction`` and the quota counts it takes, if it may be
        stored; raises ItemRefused."""
        origin, alert = retraction.body.origin, retraction.body.alert
        if origin == self._own:
            raise ItemRefused("own_item", "a retraction of our own alert from a peer")
        await self._check_origin(peer, origin, cache)
        holder = held.get(alert) or cache.admitted.get(alert)
        if holder is not None and holder != origin:
            raise ItemRefused("not_origin", "it retracts an alert another origin published")
        counters = [] if holder is not None else await self._marker_room(peer, cache, now)
        return received_hops(peer, origin, claimed), counters

    async def _known(self, cache: OriginCache) -> frozenset[bytes]:
        """Every key of every peer (current and retired): the origins this node can name."""
        if cache.known is None:
            peers = await self._peers.list()
            cache.known = frozenset(k for p in peers for k in p.keys)
            self._ledger.forget(p.key for p in peers)
        return cache.known

    async def _room(
        self,
        counter: Counter,
        limit: int,
        count: Count,
        code: str,
        message: str,
        cache: OriginCache,
    ) -> Counter:
        """``counter``, taken (counted from now on), if its quota (``limit``) has room;
        raises ItemRefused if it is full."""
        if not await self._ledger.take(counter, limit, count, cache.recounted):
            raise ItemRefused(code, message)
        return counter

    async def _origin_room(self, origin: bytes, cache: OriginCache, now: int) -> Counter:
        # In the ledger, not read once a pull: a relayed alert is a pull of its own, and
        # counting an origin's active alerts costs as many index entries as it has.
        return await self._room(
            (ORIGIN, origin), self._quotas.per_origin,
            partial(self._store.count_active, origin, now),
            "over_quota", "its origin is over its quota of stored alerts", cache,
        )  # fmt: skip

    async def _peer_room(self, peer: Peer, cache: OriginCache, now: int) -> Counter:
        return await self._room(
            ("peer", peer.key), self._quotas.per_peer,
            partial(self._store.count_delivered, peer.keys, now),
            "peer_over_quota", "this peer is over its quota of stored alerts", cache,
        )  # fmt: skip

    async def _unnamed_room(self, cache: OriginCache, now: int) -> Counter:
        known = sorted(await self._known(cache))
        return await self._room(
            ("unnamed", b""), self._quotas.unnamed,
            partial(self._store.count_unnamed, known, now),
            "unnamed_over_quota", "origins this node cannot name are over their shared quota",
            cache,
        )  # fmt: skip

    async def _marker_room(self, peer: Peer, cache: OriginCache, now: int) -> list[Counter]:
        taken = [
            await self._room(
                ("peer_markers", peer.key), self._quotas.markers_per_peer,
                partial(self._store.count_markers, peer.keys, now),
                "markers_over_quota", "this peer is over its quota of markers", cache,
            )
        ]  # fmt: skip
        return taken + await self._taken_with(taken, self._room(
            ("markers", b""), self._quotas.markers,
            partial(self._store.count_markers, None, now),
            "markers_over_quota", "this node holds as many markers as it keeps", cache,
        ))  # fmt: skip

    async def _taken_with(self, taken: list[Counter], room: Awaitable[Counter]) -> list[Counter]:
        """``[await room]``; if it refuses, what was ``taken`` for the same item is
        released first."""
        try:
            return [await room]
        except ItemRefused:
            for counter in taken:
                self._ledger.release(counter)
            raise
