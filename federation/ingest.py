"""Admitting a pull's items: verification and the trust policy, item by item.

Rule: an item is stored only if it was asked for, verifies (signature, fields,
times), and the trust list accepts it from this peer: its origin is accepted from
the peer, not blocked, not retired, under its quota, within its hop limit; a
retraction of this node's own alert never comes from a peer. Every refusal is
counted on the pull with its code (errors.CODES), never silently dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field

from protocol.alert import VerifiedAlert, VerifiedRetraction, verify_alert, verify_retraction
from protocol.errors import ProtocolError
from protocol.rotation import RETIRED_KEY, is_retired
from protocol.signing import parse_envelope

from .errors import FederationError, ItemRefused
from .interfaces import FeedStore, PeerStore
from .trust import Peer, may_accept_alert, received_hops

log = logging.getLogger(__name__)

Accepted = tuple[VerifiedAlert | VerifiedRetraction, int, bytes | None]


class BatchWriter:
    """Stores one batch while the caller fetches and verifies the next.

    At most one write is in flight; leaving the ``async with`` block waits for it, so
    a cursor saved after the block covers only durable batches. A failed write
    surfaces at the next ``submit`` or on leaving the block.
    """

    def __init__(self) -> None:
        self._pending: asyncio.Task[None] | None = None

    async def submit(self, write: Coroutine[object, object, None]) -> None:
        await self._wait()
        self._pending = asyncio.ensure_future(write)

    async def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending

    async def __aenter__(self) -> BatchWriter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._wait()


@dataclass
class OriginCache:
    """Per-pull answers about origins, so a pull asks the store once per origin."""

    active: dict[bytes, int] = field(default_factory=dict)
    blocked: dict[bytes, bool] = field(default_factory=dict)
    retired: dict[bytes, int | None] = field(default_factory=dict)


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


class Admission:
    """The checks a pulled item passes before it is stored."""

    def __init__(self, store: FeedStore, peers: PeerStore, own: bytes, max_per_origin: int) -> None:
        self._store = store
        self._peers = peers
        self._own = own
        self._max_per_origin = max_per_origin

    async def admit(
        self,
        peer: Peer,
        items: Sequence[bytes],
        hops: dict[bytes, int],
        result: PullResult,
        cache: OriginCache,
        now: int,
    ) -> list[Accepted]:
        """The items to store, with the hops they took to reach us and who brought them;
        each refused item is counted on ``result``."""
        per_origin, blocked = cache.active, cache.blocked
        accepted: list[Accepted] = []
        for data in items:
            try:
                env = parse_envelope(data)
                claimed = hops.get(env.id)
                if claimed is None:
                    raise ItemRefused("not_asked", "the peer sent something that was not asked for")
                if env.kind.value == "alert":
                    alert = verify_alert(data, now)
                    origin = alert.body.origin
                    if not may_accept_alert(peer, origin, self._own):
                        raise ItemRefused(
                            "not_accepted", "not accepted from this peer by the trust list"
                        )
                    if origin not in cache.retired:
                        cache.retired[origin] = await self._peers.retired_at(origin)
                    rotated_at = cache.retired[origin]
                    if rotated_at is not None and is_retired(rotated_at, alert.body.created, now):
                        raise ItemRefused(
                            RETIRED_KEY, "signed by a key its node retired after rotating"
                        )
                    if origin not in blocked:
                        blocked[origin] = await self._store.is_blocked(origin)
                    if blocked[origin]:
                        raise ItemRefused("blocked_origin", "its origin is blocked")
                    if origin not in per_origin:
                        per_origin[origin] = await self._store.count_active(origin, now)
                    if per_origin[origin] >= self._max_per_origin:
                        raise ItemRefused(
                            "over_quota", "its origin is over its quota of stored alerts"
                        )
                    our_hops = received_hops(peer, origin, claimed)
                    if our_hops > alert.body.hops:
                        raise ItemRefused(
                            "too_many_hops", "it travelled further than its hop limit"
                        )
                    per_origin[origin] += 1
                    accepted.append((alert, our_hops, peer.key))
                elif env.kind.value == "retraction":
                    retraction = verify_retraction(data, now)
                    origin = retraction.body.origin
                    if origin == self._own:
                        raise ItemRefused("own_item", "a retraction of our own alert from a peer")
                    accepted.append((retraction, received_hops(peer, origin, claimed), peer.key))
                else:
                    raise ItemRefused("wrong_kind", "not an alert or retraction")
            except (ProtocolError, FederationError) as exc:
                result.refused += 1
                result.refusal_code = exc.code
                if len(result.refusals) < 10:
                    result.refusals.append(str(exc))
                log.info("refused an item from peer %s (%s)", peer.short, exc.code)
        return accepted
