"""Storing a pull's admitted batches in order, behind the fetching of the next ones.

Rule: one writer serves a whole pull (``pull_writer``). It stores batches one
transaction at a time, in the order they were admitted, and runs what must follow
them (each page's cursor save, the release of claimed ids) only once they are
written, so a saved cursor never passes an unstored batch. Storing is unsynced; each
page's cursor save is synced and takes the batches before it to the disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from protocol import feed
from protocol.alert import VerifiedAlert

from .clock import Clock
from .hops import relayable, take_copies
from .ingest import Accepted, OriginCache, PullResult
from .interfaces import FeedStore
from .quota import Counter, QuotaLedger

# The most items one write of a pull stores (one transaction).
MAX_WRITE_ITEMS = 1024


class BatchWriter:
    """Stores a pull's admitted batches while the caller fetches and verifies the next
    ones, and runs what must follow them (a cursor save, a release) in order.

    One writer serves a whole pull, across pages of the peer's feed, so no page waits
    for the one before it to be stored. At most one write is in flight. Batches
    submitted meanwhile wait in a queue and the next write takes all of them at once
    (one transaction), up to ``max_items`` items: when storing is slower than
    verifying, writes grow, and each random-keyed index page a transaction touches is
    written once for more alerts. ``submit`` waits only while the queue is full.

    ``after(job)`` queues a job that runs once everything queued before it is
    written (a cursor saved then covers only stored batches); it counts as one item
    of the queue, so a pull of pages that need no bodies cannot queue without bound.
    A job given to ``after_even_on_failure`` (a release of claimed ids) runs all the
    same if a write before it fails or the writer is cancelled. A failed write
    surfaces at the next ``submit`` or ``after`` or on leaving the block; the batches
    queued behind it are not written (``discard`` gets each, to settle its quota
    counts), their plain jobs do not run, and a later pull fetches them again.
    Leaving the ``async with`` block waits until everything queued is done.
    """

    def __init__(
        self,
        write: Callable[[list[Accepted], list[Counter]], Awaitable[None]],
        discard: Callable[[list[Counter]], None] = lambda _counted: None,
        max_items: int = MAX_WRITE_ITEMS,
    ) -> None:
        self._write = write
        self._discard = discard
        self._max = max_items
        self._queue: list[_Queued] = []
        self._queued = 0
        self._running: asyncio.Task[None] | None = None
        self._room = asyncio.Event()

    async def submit(self, items: list[Accepted], counted: list[Counter]) -> None:
        """Queue one admitted batch (``counted``: the quota counts it took)."""
        await self._enqueue(_Batch(items, counted))

    async def after(self, job: Callable[[], Awaitable[None]]) -> None:
        """Queue ``job`` to run once everything queued before it is written (at once,
        by the caller, when nothing is queued or being written)."""
        self._raise_failure()
        if self._running is None and not self._queue:
            await job()
            return
        await self._enqueue(_Job(job))

    def after_even_on_failure(self, job: Callable[[], None]) -> None:
        """Run ``job`` once everything queued before it is written, or has failed or
        been abandoned (never raises: for a ``finally`` block). At once if nothing is
        queued and no write is running."""
        if (self._running is None or self._running.done()) and not self._queue:
            job()
            return
        self._queue.append(_Release(job))
        self._start()

    async def _enqueue(self, entry: _Queued) -> None:
        size = entry.size
        while True:
            self._raise_failure()
            if not self._queue or self._queued + size <= self._max:
                break
            self._room.clear()
            await self._room.wait()
        self._queue.append(entry)
        self._queued += size
        self._start()

    def _start(self) -> None:
        if self._running is None:
            self._running = asyncio.ensure_future(self._drain())

    def _take(self) -> tuple[list[Accepted], list[Counter]]:
        """The batches at the head of the queue, up to ``max_items`` items."""
        items: list[Accepted] = []
        counted: list[Counter] = []
        while self._queue:
            head = self._queue[0]
            if not isinstance(head, _Batch) or (items and len(items) + head.size > self._max):
                break
            self._queue.pop(0)
            items += head.items
            counted += head.counted
        self._queued -= len(items)
        self._room.set()
        return items, counted

    async def _drain(self) -> None:
        try:
            while self._queue:
                head = self._queue[0]
                if isinstance(head, _Batch):
                    await self._write(*self._take())
                    continue
                self._queue.pop(0)
                self._queued -= head.size
                self._room.set()
                if isinstance(head, _Job):
                    await head.job()
                else:
                    head.job()
        finally:
            self._abandon()

    def _abandon(self) -> None:
        """Give up what is still queued: settle each batch's counts, run each release."""
        queue, self._queue, self._queued = self._queue, [], 0
        for entry in queue:
            if isinstance(entry, _Batch):
                self._discard(entry.counted)
            elif isinstance(entry, _Release):
                entry.job()
        self._room.set()

    def _raise_failure(self) -> None:
        running = self._running
        if running is not None and running.done():
            self._running = None
            running.result()

    async def _wait(self) -> None:
        running = self._running
        try:
            if running is not None:
                # A cancelled caller cancels the write too: its transaction rolls back,
                # or commits first when the store takes the batch in one call.
                await running
        finally:
            self._running = None
            # A drain cancelled before it began never ran its own clean-up.
            self._abandon()

    async def __aenter__(self) -> BatchWriter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._wait()


@dataclass(slots=True)
class _Batch:
    items: list[Accepted]
    counted: list[Counter]

    @property
    def size(self) -> int:
        return len(self.items)


@dataclass(slots=True)
class _Job:
    job: Callable[[], Awaitable[None]]
    size = 1


@dataclass(slots=True)
class _Release:
    job: Callable[[], None]
    size = 0


_Queued = _Batch | _Job | _Release


def pull_writer(
    store: FeedStore, ledger: QuotaLedger, clock: Clock, result: PullResult, cache: OriginCache
) -> BatchWriter:
    """The writer of one pull's batches: stores them unsynced and counts on ``result``
    and ``cache`` what was new, what it adds to the feed peers are served (their
    pokes' news) and the shorter paths copies of held alerts offer."""

    async def write(accepted: list[Accepted], counted: list[Counter]) -> None:
        try:
            stored = await store.put_batch(accepted, clock.now(), synced=False)
        finally:
            ledger.settle(counted)
        result.stored += sum(stored)
        result.known += len(stored) - sum(stored)
        cache.written += [item.id for item, _, _ in accepted]
        # News for the peers: what this added to the feed they are served (an alert
        # stored where it may go no further is in no peer's feed); copies of alerts
        # held already may still offer a shorter path.
        news: list[feed.IdEntry] = []
        copies: list[tuple[VerifiedAlert, int]] = []
        for (item, hops, _), new in zip(accepted, stored, strict=True):
            if not isinstance(item, VerifiedAlert):
                if new:
                    news.append(feed.IdEntry("r", item.id, hops))
            elif not new:
                copies.append((item, hops))
            else:
                cache.uncounted += 1
                if relayable(item.body.hops, item.body.tlp, hops):
                    news.append(feed.IdEntry("a", item.id, hops))
        cache.news.add(news)
        if copies:
            lowered = await take_copies(store, copies, clock.now())
            result.lowered += len(lowered)
            cache.news.add(lowered)

    return BatchWriter(write, ledger.settle)
