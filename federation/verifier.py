"""Verifying pulled items on both cores: a small process pool, or inline.

Rule: every pulled item is checked by ``protocol``'s own ``verify_alert`` or
``verify_retraction`` (signature, framing and every field), in a worker process or
in this one; nothing else makes the ``Verified*`` objects a pull stores (a worker's
come back pickled with the proof they were issued). Batches smaller than
``MIN_POOL_ITEMS`` are checked inline (a single new alert should not wait on a
process round trip). A worker that dies never costs a batch: the batch is checked
inline and the pool is built afresh for the next one.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from protocol.alert import VerifiedAlert, VerifiedRetraction, verify_alert, verify_retraction
from protocol.errors import ProtocolError
from protocol.signing import Kind, parse_envelope

log = logging.getLogger(__name__)

# Worker processes: this node's target machine has two cores.
POOL_WORKERS = 2
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
                out.append((env.id, verify_alert(data, now)))
            elif env.kind is Kind.RETRACTION:
                out.append((env.id, verify_retraction(data, now)))
            else:
                out.append((env.id, ("wrong_kind", "not an alert or retraction")))
        except ProtocolError as exc:
            out.append((env.id, (exc.code, str(exc))))
    return out


class Verifier:
    """Checks batches of pulled items in ``workers`` processes (0: always inline)."""

    def __init__(self, workers: int = POOL_WORKERS, min_items: int = MIN_POOL_ITEMS) -> None:
        self.workers = workers
        self.min_items = min_items
        self._pool: ProcessPoolExecutor | None = None
        # Batches a broken pool handed back to be checked inline (status, tests).
        self.fallbacks = 0

    async def check(self, items: Sequence[bytes], now: int) -> list[Checked]:
        """``check_items(items, now)``, in the pool when the batch is large enough."""
        if self.workers <= 0 or len(items) < self.min_items:
            return check_items(items, now)
        pool = self._pool
        if pool is None:
            # spawn: the node runs threads (SQLite, hashing), which fork would copy
            # mid-flight.
            context = multiprocessing.get_context("spawn")
            pool = self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
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
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            return check_items(items, now)
        return [checked for part in parts for checked in part]

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
