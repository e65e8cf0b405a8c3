"""Reports, the audit log and settings: the node's own records.

Rule: report contents and audit entries are sealed JSON; only their times, status and
owner id are in the clear, which is what retention and the review queue need.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import NotFound
from ..keys.crypto import RowCrypto
from .db import Database


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    member_id: int | None
    created: int
    status: str
    alert_id: bytes | None
    content: dict[str, Any]


class ReportStore:
    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self._db = db
        self._crypto = crypto

    async def create(self, member_id: int | None, content: dict[str, Any], now: int) -> int:
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO reports (member_id, created, status, body_enc)"
                " VALUES (?, ?, 'new', x'')",
                (member_id, now),
            )
            report_id = int(cur.lastrowid or 0)
            sealed = self._crypto.seal("reports", "body", report_id, json.dumps(content).encode())
            await conn.execute("UPDATE reports SET body_enc = ? WHERE id = ?", (sealed, report_id))
        return report_id

    def _report(self, row: Any) -> Report:
        content = json.loads(self._crypto.open("reports", "body", row[0], row[5]))
        return Report(row[0], row[1], row[2], row[3], row[4], content)

    async def get(self, report_id: int) -> Report:
        row = await self._db.fetchone(
            "SELECT id, member_id, created, status, alert_id, body_enc FROM reports WHERE id = ?",
            (report_id,),
        )
        if row is None:
            raise NotFound("no such report")
        return self._report(row)

    async def list(
        self, *, member_id: int | None = None, status: str | None = None
    ) -> list[Report]:
        where, params = "1", []
        if member_id is not None:
            where += " AND member_id = ?"
            params.append(member_id)
        if status is not None:
            where += " AND status = ?"
            params.append(status)  # type: ignore[arg-type]
        rows = await self._db.fetchall(
            "SELECT id, member_id, created, status, alert_id, body_enc FROM reports"  # noqa: S608
            f" WHERE {where} ORDER BY created DESC, id DESC",
            params,
        )
        return [self._report(r) for r in rows]

    async def by_alert(self, alert_id: bytes) -> Report | None:
        """The report an alert was published from, if it is still kept."""
        row = await self._db.fetchone(
            "SELECT id, member_id, created, status, alert_id, body_enc FROM reports"
            " WHERE alert_id = ? ORDER BY id DESC LIMIT 1",
            (alert_id,),
        )
        return None if row is None else self._report(row)

    async def set_status(self, report_id: int, status: str, alert_id: bytes | None = None) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE reports SET status = ?, alert_id = COALESCE(?, alert_id) WHERE id = ?",
                (status, alert_id, report_id),
            )

    async def delete(self, report_id: int, member_id: int | None = None) -> None:
        async with self._db.transaction() as conn:
            sql, params = "DELETE FROM reports WHERE id = ?", [report_id]
            if member_id is not None:
                sql += " AND member_id = ?"
                params.append(member_id)
            cur = await conn.execute(sql, params)
            if cur.rowcount == 0:
                raise NotFound("no such report")
        await self._db.checkpoint()

    async def purge_older_than(self, cutoff: int) -> int:
        async with self._db.transaction() as conn:
            cur = await conn.execute("DELETE FROM reports WHERE created < ?", (cutoff,))
            count = cur.rowcount
        if count:
            await self._db.checkpoint()
        return count


class AuditLog:
    """Who (a member id and role, never a nickname) did what to which alert, when."""

    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self._db = db
        self._crypto = crypto

    async def append(self, now: int, entry: dict[str, Any]) -> None:
        async with self._db.transaction() as conn:
            cur = await conn.execute("INSERT INTO audit (at, entry_enc) VALUES (?, x'')", (now,))
            entry_id = int(cur.lastrowid or 0)
            await conn.execute(
                "UPDATE audit SET entry_enc = ? WHERE id = ?",
                (
                    self._crypto.seal("audit", "entry", entry_id, json.dumps(entry).encode()),
                    entry_id,
                ),
            )

    async def list(self, limit: int = 200) -> list[dict[str, Any]]:
        rows = await self._db.fetchall(
            "SELECT id, at, entry_enc FROM audit ORDER BY at DESC, id DESC LIMIT ?", (limit,)
        )
        return [
            {"at": r[1], **json.loads(self._crypto.open("audit", "entry", r[0], r[2]))}
            for r in rows
        ]

    async def purge_older_than(self, cutoff: int) -> int:
        async with self._db.transaction() as conn:
            cur = await conn.execute("DELETE FROM audit WHERE at < ?", (cutoff,))
            count = cur.rowcount
        if count:
            await self._db.checkpoint()
        return count


class SettingsStore:
    """Admin-changed settings (JSON values); defaults live in ``node.settings``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> dict[str, Any]:
        rows = await self._db.fetchall("SELECT name, value FROM settings")
        return {r[0]: json.loads(r[1]) for r in rows}

    async def put(self, name: str, value: Any) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO settings (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, json.dumps(value)),
            )
