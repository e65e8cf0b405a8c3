"""Verifying pulled items in a small process pool (a worker for each core but one), or
inline.

Rule: every pulled item is checked by ``protocol``'s own ``verify_alert`` or
``verify_retraction`` (signature, framing and every field), in a worker process or
in this one; nothing else makes the ``Verified*`` objects a pull stores (a worker's
come back pickled with the proof they were issued). Batches smaller than
``MIN_POOL_ITEMS`` are checked inline (a single new alert should not wait on a
process round trip). The pool is started when a pull is about to fetch a large
batch, and batches are checked in a thread until its workers are up (starting one
takes a fraction of a second), so no pull waits for it and the event loop is not held.
A worker that dies never costs a batch: the batch is checked inline and the pool is
built afresh for the next one. A large batch first waits its turn (``wait_turn``):
a node lets a member's slow hash run before it.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from protocol.alert import VerifiedAlert, verify_alert_envelope
from protocol.errors import ProtocolError
from protocol.retraction import VerifiedRetraction, verify_retraction_envelope
from protocol.signing import Kind, parse_envelope

log = logging.getLogger(__name__)


def usable_cores() -> int:
    """The cores this process may run on (its affinity, where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def pool_workers(cores: int | None = None) -> int:
    """How many worker processes verify on a machine of ``cores`` cores (default: the
    cores this process may run on): all but one, and at least one. The node's own
    process keeps a core: its event loop and database thread store what the workers
    verify, and a member's slow hash runs there too. On two cores one worker stores a
    catch-up faster than two, and a member's check during it waits less
    (docs/benchmarks.md, thirteenth session)."""
    return max(1, (usable_cores() if cores is None else cores) - 1)


# Worker processes for this machine.
POOL_WORKERS = pool_workers()
# Batches of fewer items are verified inline.
MIN_POOL_ITEMS = 64

Verdict = VerifiedAlert | VerifiedRetraction | tuple[str, str]
# One item's outcome: its id (None if its framing does not parse), and either the
# verified object or the (code, message) of the reason it was refused.
Checked = tuple[bytes | None, Verdict]


def check_items(items: Sequence[bytes], now: int) -> list[Checked]:
    """Verify each of ``items`` as received at ``now``; never raises a ProtocolError."""
    out: list[Checked] = []
    for data in items:
        try:
            env = parse_envelope(data)
        except ProtocolError as exc:
            out.append((None, (exc.code, str(exc))))
            continue
        try:
            if env.kind is Kind.ALERT:
                out.append((env.id, verify_alert_envelope(env, now)))
            elif env.kind is Kind.RETRACTION:
                out.append((env.id, verify_retraction_envelope(env, now)))
            else:
                out.append((env.id, ("wrong_kind", "not an alert or retraction")))
        except ProtocolError as exc:
            out.append((env.id, (exc.code, str(exc))))
    return out


def _warm_up() -> None:
    """Run in each new worker: by then it has imported the protocol package."""


# How often a worker looks whether the node that started it is still there.
PARENT_CHECK_S = 1.0


def _follow_parent(parent: int) -> None:
    """Run first in each worker: the worker ends when the node does. A node that is
    killed (SIGKILL, the OOM killer) cannot shut its pool down, and its workers would
    otherwise live on, orphaned, holding its output pipes; a daemon thread notices the
    new parent and ends the worker within PARENT_CHECK_S."""
    if os.getppid() != parent:
        os._exit(0)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


class Verifier:
    """Checks batches of pulled items in ``workers`` processes (0: always inline).

    ``wait_turn``, if set, is awaited before each batch large enough for the pool: the
    node makes it wait (boundedly) while a member's slow hash runs, so that a catch-up
    does not take the cores from a member's check."""

    def __init__(
        self,
        workers: int = POOL_WORKERS,
        min_items: int = MIN_POOL_ITEMS,
        wait_turn: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.workers = workers
        self.min_items = min_items
        self.wait_turn = wait_turn
        self._pool: ProcessPoolExecutor | None = None
        self._ready: list[Future[None]] = []
        # Batches checked in the pool, and batches a broken pool handed back to be
        # checked inline (status, tests).
        self.pooled = 0
        self.fallbacks = 0

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: the node runs threads (SQLite, hashing), which fork would copy
            # mid-flight.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=_follow_parent,
                initargs=(os.getpid(),),
            )
            self._ready = [self._pool.submit(_warm_up) for _ in range(self.workers)]
        return self._pool

    def expect(self, count: int) -> None:
        """A pull is about to fetch ``count`` items: start the workers now if batches
        that large would use them, so they are up by the time the bodies arrive (the
        first batches are checked inline until then)."""
        if self.workers > 0 and count >= self.min_items:
            self._start()

    async def start(self) -> None:
        """Start the workers now and wait until they are up (a node leaves this to its
        first large batch)."""
        if self.workers > 0:
            self._start()
            await asyncio.gather(*(asyncio.wrap_future(f) for f in self._ready))

    async def check(self, items: Sequence[bytes], now: int) -> list[Checked]:
        """``check_items(items, now)``, in the pool when the batch is large enough."""
        if self.workers <= 0 or len(items) < self.min_items:
            return check_items(items, now)
        if self.wait_turn is not None:
            await self.wait_turn()
        pool = self._start()
        if not all(f.done() for f in self._ready):
            # In a thread, not inline: a batch this large holds the event loop for
            # tens of milliseconds, and members' requests wait on it.
            return await asyncio.to_thread(check_items, items, now)
        self.pooled += 1
        loop = asyncio.get_running_loop()
        step = -(-len(items) // self.workers)
        chunks = [list(items[i : i + step]) for i in range(0, len(items), step)]
        try:
            parts = await asyncio.gather(
                *(loop.run_in_executor(pool, check_items, chunk, now) for chunk in chunks)
            )
        except BrokenProcessPool:
            log.warning("a verification worker died; checking its batch here")
            self.fallbacks += 1
            if self._pool is pool:
                self.close()
            return check_items(items, now)
        return [checked for part in parts for checked in part]

    def close(self) -> None:
        self._ready = []
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
