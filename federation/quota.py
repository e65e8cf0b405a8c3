"""Rate limits and quotas that keep a hostile or broken peer from exhausting a node.

Rule: every per-peer structure here is bounded by the trust list (only known peers get
a bucket) and keyed by the trust-list entry (``Peer.entry_id``), never by a key, so a
peer that rotates its key keeps its bucket; every limit is a named constant, and time
comes from the caller (the server passes its injected Clock's ``monotonic()``), so a
test can step it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Requests a peer may make to our federation port: a steady rate and a burst.
PEER_REQUESTS_PER_S = 20.0
PEER_REQUEST_BURST = 200
# A peer's own key rotations we accept: at most one per this many seconds (by our
# clock). Later ones are refused with ``rotation_too_soon`` until the time is up.
MIN_ROTATION_INTERVAL_S = 24 * 3600
# Rotation statements of other nodes that one peer may pass on to us and we keep
# (each about 250 bytes); more are refused with ``statements_full``.
MAX_RELAYED_STATEMENTS_PER_PEER = 4096
# Active alerts we keep from any one origin: bounds what one origin can make us store.
MAX_ACTIVE_ALERTS_PER_ORIGIN = 50_000


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
    """One token bucket per trust-list entry."""

    def __init__(
        self, rate_per_s: float = PEER_REQUESTS_PER_S, burst: float = PEER_REQUEST_BURST
    ) -> None:
        self.rate_per_s = rate_per_s
        self._burst = burst
        self._buckets: dict[int, TokenBucket] = {}

    def allow(self, entry_id: int, now: float) -> bool:
        bucket = self._buckets.get(entry_id)
        if bucket is None:
            bucket = self._buckets[entry_id] = TokenBucket(
                self.rate_per_s, self._burst, self._burst, now
            )
        return bucket.allow(now)

    def forget(self, keep: set[int]) -> None:
        """Drop buckets of entries no longer on the trust list."""
        for entry_id in list(self._buckets):
            if entry_id not in keep:
                del self._buckets[entry_id]
