"""The trust list's rows, held in memory between writes.

The federation server looks its caller up on every request, and each pull, poke and
fan-out reads its peers too: at a relay of the 100-node benchmark that was a quarter of
all calls to the database thread. The rows are few (one per trusted peer), so the
whole table and its previous keys are read in one hop and kept until the next write.

Rule: every write to ``peers`` or ``peer_keys`` goes through ``PeerRows.transaction``
or ``PeerRows.write``, which drop what is held when the write ends (committed or not).
A read that was under way when a write ended is returned but not kept, so nothing
older than the last write is served from memory after it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import aiosqlite

from federation.trust import Peer

from .db import Database

T = TypeVar("T")

COLUMNS = (
    "key, card_enc, accept, share, suspended, proxy, cursor, epoch,"
    " last_sync, items_received, lag, last_error, added,"
    " last_error_code, last_error_at, refused, last_pull_refused, last_refusal_code,"
    " last_refusal_at, entry_id"
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every peer's row, in the order the trust list is shown (added, key), and the
    keys each peer rotated away from (oldest first)."""

    rows: tuple[sqlite3.Row, ...]
    by_key: dict[bytes, sqlite3.Row]
    previous: dict[bytes, tuple[bytes, ...]]
    # Each peer as PeerStore.get built it from these rows (filled as asked for).
    peers: dict[bytes, Peer] = field(default_factory=dict)


def _read(conn: sqlite3.Connection) -> Snapshot:
    """On the database thread: the whole trust list."""
    rows = tuple(conn.execute(f"SELECT {COLUMNS} FROM peers ORDER BY added, key").fetchall())  # noqa: S608
    previous: dict[bytes, list[bytes]] = {}
    for peer, old in conn.execute("SELECT peer, old FROM peer_keys ORDER BY rotated_at, old"):
        previous.setdefault(bytes(peer), []).append(bytes(old))
    return Snapshot(
        rows,
        {bytes(row[0]): row for row in rows},
        {key: tuple(olds) for key, olds in previous.items()},
    )


class PeerRows:
    __slots__ = ("_db", "_generation", "_held")

    def __init__(self, db: Database) -> None:
        self._db = db
        self._held: Snapshot | None = None
        self._generation = 0

    async def read(self) -> Snapshot:
        """The trust list as of the last write: from memory, or in one hop."""
        held = self._held
        if held is not None:
            return held
        generation = self._generation
        # The table is one row per trusted peer: short enough to read on the loop.
        snapshot = await self._db.quick_run(_read)
        if generation == self._generation:
            self._held = snapshot
        return snapshot

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """``Database.transaction`` for a write to the trust list."""
        try:
            async with self._db.transaction() as conn:
                yield conn
        finally:
            self._changed()

    async def write(
        self, job: Callable[[sqlite3.Connection], T], *, synced: bool = True, quick: bool = False
    ) -> T:
        """``Database.write`` for a write to the trust list."""
        try:
            return await self._db.write(job, synced=synced, quick=quick)
        finally:
            self._changed()

    def _changed(self) -> None:
        self._generation += 1
        self._held = None
