"""The changes feed as this node serves it: its log, read in order, by position or by id.

Rule: every row the feed serves has exactly one log position, and positions only grow;
a retraction's row carries its alert's reach (hop limit, TLP label) only once that
alert, from the retraction's own origin, is held here; until then it reaches no one.
Every read of the log sees committed rows only (``Database.committed``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from .db import QUICK_KEYS, Database

EPOCH_BYTES = 16


@dataclass(frozen=True, slots=True)
class FeedRow:
    pos: int
    kind: str  # 'a' alert, 'r' retraction
    id: bytes
    origin: bytes
    hops: int
    max_hops: int
    tlp: str
    received_from: bytes | None
    expires: int
    alert_id: bytes  # the alert a retraction names (the alert itself for 'a')
    # Moved here (a shorter path lowered its hop count) after the notifier routed it.
    relisted: bool = False


class FeedLog:
    """Reads of the log (``AlertStore`` is one); callers filter what a peer may see."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # The epoch once read: only new_epoch changes it in a running node (a restore
        # writes a new one into a store that no running node has open), and the
        # server reads it on every /changes and /bodies.
        self._epoch: bytes | None = None

    _FEED_SELECT = (
        "SELECT l.pos, l.kind, l.id,"
        " COALESCE(a.origin, r.origin), COALESCE(a.hops, r.hops),"
        " COALESCE(a.max_hops, ra.max_hops, 0), COALESCE(a.tlp, ra.tlp, 'RED'),"
        " COALESCE(a.received_from, r.received_from), COALESCE(a.expires, r.expires, 0),"
        " COALESCE(r.alert_id, l.id), l.relisted"
        " FROM log l"
        " LEFT JOIN alerts a ON l.kind = 'a' AND a.id = l.id"
        " LEFT JOIN retractions r ON l.kind = 'r' AND r.id = l.id"
        " LEFT JOIN alerts ra ON ra.id = r.alert_id AND ra.origin = r.origin"
    )

    async def feed(self, since: int, limit: int) -> list[FeedRow]:
        """Log entries after ``since``, in log order (unfiltered; callers filter). A
        range of the log's key, at most ``limit`` rows (a page: 1,000 at most), read
        on the loop when the database thread is idle, committed rows only
        (``Database.committed``)."""
        rows = await self._db.committed(
            self._FEED_SELECT + " WHERE l.pos > ? ORDER BY l.pos LIMIT ?", (since, limit)
        )
        return [FeedRow(*r) for r in rows]

    async def rows_at(self, positions: Sequence[int]) -> list[FeedRow]:
        """The log entries at ``positions`` (those that still exist)."""
        if not positions:
            return []
        marks = ",".join("?" * len(positions))
        rows = await self._db.committed(
            self._FEED_SELECT + f" WHERE l.pos IN ({marks}) ORDER BY l.pos",
            tuple(positions),
            keys=len(positions),
        )
        return [FeedRow(*r) for r in rows]

    async def rows_by_id(self, ids: Sequence[bytes]) -> list[FeedRow]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = await self._db.committed(
            self._FEED_SELECT + f" WHERE l.id IN ({marks}) ORDER BY l.pos",
            tuple(ids),
            keys=len(ids),
        )
        return [FeedRow(*r) for r in rows]

    async def ids_after(self, after: bytes | None, limit: int) -> list[FeedRow]:
        """Log entries in id order after ``after`` (for the id-diff after an epoch change)."""
        rows = await self._db.committed(
            self._FEED_SELECT + " WHERE l.id > ? ORDER BY l.id LIMIT ?",
            (after or b"", limit),
            keys=QUICK_KEYS + 1,  # a page in id order: never on the event loop
        )
        return [FeedRow(*r) for r in rows]

    async def epoch(self) -> bytes:
        """The feed epoch: a new one whenever the log is reset (a restore from backup)."""
        if self._epoch is None:
            row = await self._db.fetchone("SELECT value FROM meta WHERE name = 'epoch'")
            if row is None:
                return await self.new_epoch()
            self._epoch = bytes(row[0])
        return self._epoch

    async def new_epoch(self) -> bytes:
        epoch = secrets.token_bytes(EPOCH_BYTES)
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO meta (name, value) VALUES ('epoch', ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (epoch,),
            )
        self._epoch = epoch
        return epoch

    async def flush(self) -> None:
        """Every commit so far on the disk, before a feed position is served
        (``Database.flush``)."""
        await self._db.flush()

    async def last_pos(self) -> int:
        rows = await self._db.committed("SELECT COALESCE(MAX(pos), 0) FROM log", ())
        return int(rows[0][0]) if rows else 0
