"""The nonces of recent signed requests, so that a node refuses a replay after a restart.

Rule: a nonce is written before the request it came with is served, and kept until
its timestamp is older than the replay window, when no clock check would accept its
request anyway. The write survives the process stopping or crashing (a restart) but
does not wait for the disk (``synced=False``, about 1 ms a request less here): a power
cut can lose the nonces written since the store's last synced commit, so only a
request captured in those seconds and replayed within its 60 s after the machine is
back could pass. Nonces are random bytes; a row says only that a peer's entry made a
request within the last two minutes, so deleting them does not ask for the
checkpoint that deleting member data does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from .db import Database

# How often (in seconds of request time) nonces too old to matter are deleted.
PRUNE_EVERY_S = 60


class NonceStore:
    """``federation.interfaces.NonceJournal`` over the node's database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # Nonces too old to matter are dropped at most once a window, not per write.
        self._pruned_before = -1

    async def load_nonces(self, since: int) -> list[tuple[int, bytes, int, int]]:
        rows = await self._db.fetchall(
            "SELECT entry_id, nonce, ts, until FROM request_nonces WHERE ts >= ?"
            " ORDER BY until, ts",
            (since,),
        )
        return [(int(r[0]), bytes(r[1]), int(r[2]), int(r[3])) for r in rows]

    async def save_nonces(
        self, rows: Sequence[tuple[int, bytes, int, int]], forget_before: int
    ) -> None:
        prune = forget_before >= self._pruned_before + PRUNE_EVERY_S

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT OR IGNORE INTO request_nonces (entry_id, nonce, ts, until)"
                " VALUES (?, ?, ?, ?)",
                rows,
            )
            if prune:
                conn.execute("DELETE FROM request_nonces WHERE ts < ?", (forget_before,))

        # Made before every request is served, so its cost is paid on every step of a
        # propagation: on the event loop's thread when the database thread is idle,
        # else in one hop to it; a prune (a scan) always goes to the thread.
        await self._db.write(write, synced=False, quick=not prune)
        if prune:
            self._pruned_before = forget_before
