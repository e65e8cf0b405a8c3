"""Rate limits and quotas that keep a hostile or broken peer from exhausting a node.

Rule: every per-peer structure here is bounded by the trust list (only known peers get
a bucket) and keyed by the trust-list entry (``Peer.entry_id``), never by a key, so a
peer that rotates its key keeps its bucket; every limit is a named constant, and time
comes from the caller (the server passes its injected Clock's ``monotonic()``), so a
test can step it.

Origins cost nothing to make, so no quota keyed by origin alone bounds a node's disk:
what one trust-list entry delivered is capped (alerts and markers), and so is what
all origins this node cannot name add up to, whoever delivered them. Nor do they
bound the ledger: it keeps MAX_ORIGIN_COUNTS per-origin counts at most.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

# Requests a peer may make to our federation port: a steady rate and a burst.
PEER_REQUESTS_PER_S = 20.0
PEER_REQUEST_BURST = 200
# Body fetches (/bodies, at most MAX_BATCH_IDS bodies and 1 MiB each) have a bucket of
# their own, so a long catch-up from a peer is bounded by verification, not by the
# general rate: 200/s x 256 bodies is above what one node can verify (~20,000/s).
PEER_BODY_REQUESTS_PER_S = 200.0
PEER_BODY_REQUEST_BURST = 200
# A peer's own key rotations we accept: at most one per this many seconds (by our
# clock). Later ones are refused with ``rotation_too_soon`` until the time is up.
MIN_ROTATION_INTERVAL_S = 24 * 3600
# Rotation statements of other nodes that one peer may pass on to us and we keep
# (each about 250 bytes); more are refused with ``statements_full``.
MAX_RELAYED_STATEMENTS_PER_PEER = 4096
# Active alerts we keep from any one origin: bounds what one origin can make us store.
MAX_ACTIVE_ALERTS_PER_ORIGIN = 50_000
# Active alerts we keep that one trust-list entry delivered (under any of its keys),
# whatever their origins: what one peer can make us store.
MAX_ACTIVE_ALERTS_PER_PEER = 100_000
# Active alerts from origins this node cannot name (not a peer, under any of its keys),
# whoever delivered them, all together.
MAX_ACTIVE_ALERTS_UNNAMED = 200_000
# Retraction markers (a retraction naming an alert not held here, kept per alert and
# origin until the alert arrives or the retraction expires): per delivering peer, and
# in all. (A supersede of an alert not held leaves a marker too, one per alert stored,
# so the alert quotas bound those.)
MAX_MARKERS_PER_PEER = 2_000
MAX_MARKERS = 10_000
# A shared count is read from the store again once it is this old (in between, it only
# moves up by what is admitted), and at most once a pull when it has reached its limit.
QUOTA_RECOUNT_S = 60.0
# Per-origin counts kept in the ledger at most (least recently asked for go first; a
# count dropped is read from the store again when next asked for). Origins cost
# nothing to make: this bounds what invented ones can make the ledger hold.
MAX_ORIGIN_COUNTS = 4096
# The per-origin counts' kind: kept whoever is on the trust list (``forget``).
ORIGIN = "origin"


@dataclass(frozen=True, slots=True)
class Quotas:
    """The limits a node applies to what its peers deliver (docs/federation.md)."""

    per_origin: int = MAX_ACTIVE_ALERTS_PER_ORIGIN
    per_peer: int = MAX_ACTIVE_ALERTS_PER_PEER
    unnamed: int = MAX_ACTIVE_ALERTS_UNNAMED
    markers_per_peer: int = MAX_MARKERS_PER_PEER
    markers: int = MAX_MARKERS


# What a count is of: ("peer", key), ("peer_markers", key), ("unnamed", b""),
# ("markers", b""), (ORIGIN, origin key).
Counter = tuple[str, bytes]
Count = Callable[[], Awaitable[int]]


@dataclass
class _Reading:
    value: int
    read_at: float


class QuotaLedger:
    """How much of each shared quota is used, for every pull of one Syncer.

    A count is read from the store when first asked for, once it is QUOTA_RECOUNT_S
    old, and (at most once a pull, through ``recounted``) when it has reached its limit,
    since expiry and retractions free room. Items admitted but not yet written are
    ``pending`` until their batch is written (``settle``), and every read adds them to
    what the store says; so concurrent pulls, and a pull's own batch in flight, are
    counted before they are durable, and a count is never below what is stored and
    pending. A batch written while a read was under way may or may not be in what the
    store says, so the read adds what was pending when it began and everything
    admitted since: it may count that batch twice until the next read, never not at
    all. Between reads a count only moves up: an item may be refused early, never
    admitted past a limit.
    """

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._counts: dict[Counter, _Reading] = {}
        self._pending: dict[Counter, int] = {}
        # Items ever admitted against each counter (only moves up).
        self._admitted: dict[Counter, int] = {}
        # Reads of each counter under way now.
        self._reading: dict[Counter, int] = {}
        # The per-origin counters held, least recently asked for first.
        self._origins: dict[Counter, None] = {}

    async def has_room(
        self, counter: Counter, limit: int, count: Count, recounted: set[Counter]
    ) -> bool:
        now = self._monotonic()
        if counter[0] == ORIGIN:
            self._origins.pop(counter, None)
            self._origins[counter] = None
            self._drop_old_origins(counter)
        reading = self._counts.get(counter)
        if reading is None or now - reading.read_at >= QUOTA_RECOUNT_S:
            reading = await self._read(counter, count, now)
        elif reading.value >= limit and counter not in recounted:
            recounted.add(counter)
            reading = await self._read(counter, count, now)
        return reading.value < limit

    async def _read(self, counter: Counter, count: Count, now: float) -> _Reading:
        pending, admitted = self._pending.get(counter, 0), self._admitted.get(counter, 0)
        self._reading[counter] = self._reading.get(counter, 0) + 1
        try:
            stored = await count()
        finally:
            left = self._reading[counter] - 1
            if left:
                self._reading[counter] = left
            else:
                del self._reading[counter]
        since = self._admitted.get(counter, 0) - admitted
        reading = self._counts[counter] = _Reading(stored + pending + since, now)
        return reading

    def _drop_old_origins(self, asked: Counter) -> None:
        """Over MAX_ORIGIN_COUNTS, drop the per-origin counters least recently asked
        for (never ``asked``, the one asked for now), skipping any with items pending
        or a read under way (what the next read of it adds up would be wrong without
        them): the next ask reads the store."""
        excess = len(self._origins) - MAX_ORIGIN_COUNTS
        if excess <= 0:
            return
        idle: list[Counter] = []
        for counter in self._origins:
            if counter != asked and counter not in self._pending and counter not in self._reading:
                idle.append(counter)
                if len(idle) == excess:
                    break
        for counter in idle:
            del self._origins[counter]
            self._counts.pop(counter, None)
            self._admitted.pop(counter, None)

    async def take(
        self, counter: Counter, limit: int, count: Count, recounted: set[Counter]
    ) -> bool:
        """``has_room``, and if there is room the item is counted (``add``) at once, with
        no await in between: two pulls that share a count cannot both take its last
        place. An item taken and then refused for another reason is ``release``d."""
        if not await self.has_room(counter, limit, count, recounted):
            return False
        self.add(counter)
        return True

    def release(self, counter: Counter) -> None:
        """An item taken against ``counter`` will not be written after all."""
        reading = self._counts.get(counter)
        if reading is not None:
            reading.value -= 1
        self.settle([counter])

    def add(self, counter: Counter) -> None:
        """One more item admitted against ``counter`` (read by ``has_room`` before)."""
        reading = self._counts.get(counter)
        if reading is not None:
            reading.value += 1
        self._pending[counter] = self._pending.get(counter, 0) + 1
        self._admitted[counter] = self._admitted.get(counter, 0) + 1

    def settle(self, counters: Iterable[Counter]) -> None:
        """The items admitted against ``counters`` are written (or failed to be): the
        store counts them from now on (or never will)."""
        for counter in counters:
            left = self._pending.get(counter, 0) - 1
            if left > 0:
                self._pending[counter] = left
            else:
                self._pending.pop(counter, None)

    def forget(self, keep: Iterable[bytes]) -> None:
        """Drop the per-peer counts of keys no longer on the trust list (the
        per-origin counts are bounded by MAX_ORIGIN_COUNTS instead)."""
        kept = set(keep)

        def gone(counter: Counter) -> bool:
            return counter[0] != ORIGIN and bool(counter[1]) and counter[1] not in kept

        for counter in [c for c in self._counts if gone(c)]:
            del self._counts[counter]
        for counter in [c for c in self._admitted if gone(c)]:
            del self._admitted[counter]


@dataclass
class TokenBucket:
    rate_per_s: float
    burst: float
    tokens: float
    updated: float

    def allow(self, now: float, cost: float = 1.0) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate_per_s)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


class PeerRateLimiter:
    """Two token buckets per trust-list entry: body fetches, and everything else."""

    def __init__(
        self,
        rate_per_s: float = PEER_REQUESTS_PER_S,
        burst: float = PEER_REQUEST_BURST,
        bodies_per_s: float = PEER_BODY_REQUESTS_PER_S,
        bodies_burst: float = PEER_BODY_REQUEST_BURST,
    ) -> None:
        self.rate_per_s = rate_per_s
        self._burst = burst
        self.bodies_per_s = bodies_per_s
        self._bodies_burst = bodies_burst
        self._buckets: dict[tuple[int, bool], TokenBucket] = {}

    def allow(self, entry_id: int, now: float, bodies: bool = False) -> bool:
        """Whether the entry may make one more request now (``bodies``: a /bodies)."""
        bucket = self._buckets.get((entry_id, bodies))
        if bucket is None:
            rate, burst = (
                (self.bodies_per_s, self._bodies_burst)
                if bodies
                else (self.rate_per_s, self._burst)
            )
            bucket = self._buckets[(entry_id, bodies)] = TokenBucket(rate, burst, burst, now)
        return bucket.allow(now)

    def retry_after_s(self, bodies: bool) -> float:
        return 1.0 / (self.bodies_per_s if bodies else self.rate_per_s)

    def forget(self, keep: set[int]) -> None:
        """Drop buckets of entries no longer on the trust list."""
        for key in list(self._buckets):
            if key[0] not in keep:
                del self._buckets[key]
