"""What the quotas on receipt need to know: counts of stored alerts and markers, the
origins of held alerts, and the origin block list.

Rule: every count is answered from a covering index (schema migration 5, named with
INDEXED BY so that the planner cannot pick another), never by reading alert rows: in
a scratch database of a million alerts, under 0.1 s for one peer's 125,000 and 0.1 to
0.4 s for the scan over everything peers delivered, which federation reads at most
once a minute (federation/quota.py); reading rows instead took about 100 s there.
"""

from __future__ import annotations

from collections.abc import Sequence

from .db import QUICK_KEYS, Database


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


class QuotaUsage:
    """Read-only counts over the alerts store (a part of ``AlertStore``)."""

    _db: Database

    async def is_blocked(self, origin: bytes) -> bool:
        row = await self._db.quick_one("SELECT 1 FROM blocked_origins WHERE origin = ?", (origin,))
        return row is not None

    async def _count(self, sql: str, params: Sequence[object]) -> int:
        row = await self._db.fetchone(sql, params)
        return int(row[0]) if row else 0

    async def _count_rows(self, rows: str, params: Sequence[object], keys: int = 1) -> int:
        """``SELECT COUNT(*) {rows}`` (``rows``: FROM ... WHERE ..., naming ``keys``
        keys). The quota ledger reads each count when first asked for, once a minute
        after, and at its limit: a count below QUICK_KEYS is made as a quick read (on
        the event loop's thread while the database thread is idle); one that reaches
        it is made again, whole, on the reader."""
        few = await self._db.quick_one(
            f"SELECT COUNT(*) FROM (SELECT 1 {rows} LIMIT {QUICK_KEYS})",  # noqa: S608
            params,
            keys=keys,
        )
        if few is not None and int(few[0]) < QUICK_KEYS:
            return int(few[0])
        return await self._count(f"SELECT COUNT(*) {rows}", params)

    async def count_active(self, origin: bytes, now: int) -> int:
        """Active alerts from ``origin`` (the quota ledger's per-origin count)."""
        return await self._count_rows(
            "FROM alerts INDEXED BY alerts_origin"
            " WHERE origin = ? AND state = 'active' AND expires > ?",
            (origin, now),
        )

    async def count_delivered(self, keys: Sequence[bytes], now: int) -> int:
        """Active alerts that a peer delivered under any of ``keys``."""
        if not keys:
            return 0
        return await self._count_rows(
            "FROM alerts INDEXED BY alerts_delivered"
            f" WHERE received_from IN ({_marks(keys)})"
            " AND state = 'active' AND expires > ?",
            (*keys, now),
            len(keys),
        )

    async def count_unnamed(self, known: Sequence[bytes], now: int) -> int:
        """Active alerts peers delivered whose origin is none of ``known`` (every key of
        every peer): all that peers delivered (this node's own have no
        ``received_from``), less those from known origins (which only ever arrive from
        peers)."""
        delivered = await self._count_rows(
            "FROM alerts INDEXED BY alerts_delivered"
            " WHERE received_from IS NOT NULL AND state = 'active' AND expires > ?",
            (now,),
        )
        if not known:
            return delivered
        from_known = await self._count_rows(
            "FROM alerts INDEXED BY alerts_origin"
            f" WHERE origin IN ({_marks(known)})"
            " AND state = 'active' AND expires > ?",
            (*known, now),
            len(known),
        )
        return max(0, delivered - from_known)

    async def count_markers(self, keys: Sequence[bytes] | None, now: int) -> int:
        """Unexpired retraction markers (retractions of alerts not held), all of them or
        those a peer delivered under any of ``keys``."""
        if keys is None:
            return await self._count_rows(
                "FROM markers INDEXED BY markers_from WHERE state = 'retracted' AND expires > ?",
                (now,),
            )
        if not keys:
            return 0
        return await self._count_rows(
            "FROM markers INDEXED BY markers_from"
            f" WHERE received_from IN ({_marks(keys)}) AND state = 'retracted' AND expires > ?",
            (*keys, now),
            len(keys),
        )

    async def alert_origins(self, ids: Sequence[bytes]) -> dict[bytes, bytes]:
        """The origin of each alert among ``ids`` that is held here (in any state)."""
        if not ids:
            return {}
        rows = await self._db.fetchall(
            f"SELECT id, origin FROM alerts WHERE id IN ({_marks(ids)})",  # noqa: S608
            tuple(ids),
        )
        return {bytes(r[0]): bytes(r[1]) for r in rows}
