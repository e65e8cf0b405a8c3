"""The replay guard: one bounded nonce window per trust-list entry, kept across restarts.

Rule: a signed request's nonce is remembered in its peer's own window (keyed by the
trust-list entry, so a key rotation neither resets nor multiplies it) and, when the
guard has a journal, written to it before the request's route runs; a new guard
over the same journal refuses every request the old one accepted, for as long as the
request's timestamp is acceptable. One peer can fill only its own window.

Writes are group-committed: requests that arrive while a write is under way share the
next one, so a burst costs one commit, not one per request (rows waiting for a
write are at most the requests in flight). Memory is bounded by the trust list
(``forget`` drops windows of removed entries) times the window size.
"""

from __future__ import annotations

import asyncio

from protocol.request import MAX_NONCES_PER_PEER, REQUEST_SKEW_S, NonceWindow

from .errors import FederationError
from .interfaces import NonceJournal

Row = tuple[int, bytes, int, int]


class ReplayGuard:
    """``seen`` refuses replays; with a ``journal``, what it accepted survives a restart."""

    def __init__(
        self,
        journal: NonceJournal | None = None,
        *,
        max_per_peer: int = MAX_NONCES_PER_PEER,
        skew_s: int = REQUEST_SKEW_S,
    ) -> None:
        self._journal = journal
        self.max_per_peer = max_per_peer
        self.skew_s = skew_s
        self._windows: dict[int, NonceWindow] = {}
        self._loaded = journal is None
        self._load_lock = asyncio.Lock()
        # Group commit: rows waiting for a write, numbered; how far writes got.
        self._pending: list[Row] = []
        self._queued = 0
        self._written = 0
        self._failed = 0
        self._write_lock = asyncio.Lock()

    def window(self, entry_id: int) -> NonceWindow:
        found = self._windows.get(entry_id)
        if found is None:
            found = self._windows[entry_id] = NonceWindow(self.max_per_peer, self.skew_s)
        return found

    async def seen(self, entry_id: int, nonce: bytes, timestamp: int, now: int) -> bool:
        """Record a request of the peer ``entry_id``; True means refuse it (a replay,
        or one that cannot be told from one). When this returns False the nonce is
        in the journal. Raises whatever the journal raises (the request must then fail)."""
        if not self._loaded:
            await self._load(now)
        window = self.window(entry_id)
        # Checked and recorded with no await between: a concurrent replay is refused
        # here even before the first copy is written.
        if window.seen(nonce, timestamp, now):
            return True
        if self._journal is not None:
            await self._write((entry_id, nonce, timestamp, window.until(timestamp, now)), now)
        return False

    def forget(self, keep: set[int]) -> None:
        """Drop the windows of entries no longer on the trust list."""
        for entry_id in list(self._windows):
            if entry_id not in keep:
                del self._windows[entry_id]

    async def _load(self, now: int) -> None:
        async with self._load_lock:
            if self._loaded or self._journal is None:
                return
            for entry_id, nonce, timestamp, until in await self._journal.load_nonces(
                now - self.skew_s
            ):
                self.window(entry_id).restore(nonce, timestamp, until, now)
            self._loaded = True

    async def _write(self, row: Row, now: int) -> None:
        assert self._journal is not None
        self._pending.append(row)
        self._queued += 1
        mine = self._queued
        async with self._write_lock:
            if mine <= self._written:
                return  # an earlier writer took this row along
            if mine <= self._failed:
                raise FederationError("the replay window could not be written", code="internal")
            rows, self._pending = self._pending, []
            upto = self._queued
            try:
                await self._journal.save_nonces(rows, now - self.skew_s)
            except BaseException:
                self._failed = upto
                raise
            self._written = upto
