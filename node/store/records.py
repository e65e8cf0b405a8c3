"""Reports, the audit log and settings: the node's own records.

Rule: report contents, a report's status and the alert it became (with what its
member asked about it and the messages about it), audit entries and settings' values
are sealed; only a report's owner id and day, and an audit entry's
day, are in the clear, which is what "my reports" and retention need. Retention
counts whole days: a row dated day D goes once D plus the retention period has passed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from protocol.limits import DAY_S

from ..errors import NotFound
from ..keys.crypto import RowCrypto
from .db import Database
from .sealed import (
    coarsen_day,
    open_report_state,
    open_report_state_all,
    open_setting,
    seal_report_state,
    seal_setting,
)
from .totals import bump_in

_REPORT_COLUMNS = "id, member_id, created, state_enc, body_enc"
# The messages kept on one report (her help request and the caseworkers' answers);
# the oldest go first.
MAX_REPORT_MESSAGES = 20
MAX_REPORT_MESSAGE_CHARS = 2000

State = tuple[str, bytes | None, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    member_id: int | None
    created: int  # the day (UTC) it arrived, as a Unix time
    status: str
    alert_id: bytes | None
    content: dict[str, Any]
    # She asked for the alert made from this report to be withdrawn; a caseworker has
    # yet to confirm (node setting ``report_withdrawal``).
    withdraw: bool = False
    # She asked a caseworker to contact her through the node.
    help: bool = False
    # {"from": "member" | "caseworker", "day": Unix day, "text": ...}, oldest first.
    messages: tuple[dict[str, Any], ...] = ()


class ReportStore:
    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self._db = db
        self._crypto = crypto

    async def create(self, member_id: int | None, content: dict[str, Any], now: int) -> int:
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO reports (member_id, created, state_enc, body_enc)"
                " VALUES (?, ?, x'', x'')",
                (member_id, coarsen_day(now)),
            )
            report_id = int(cur.lastrowid or 0)
            body = self._crypto.seal("reports", "body", report_id, json.dumps(content).encode())
            state = seal_report_state(self._crypto, report_id, "new", None)
            await conn.execute(
                "UPDATE reports SET state_enc = ?, body_enc = ? WHERE id = ?",
                (state, body, report_id),
            )
            await bump_in(conn, "reports", now)
        return report_id

    def _report(self, row: Any) -> Report:
        status, alert_id, extra = open_report_state_all(self._crypto, row[0], row[3])
        content = json.loads(self._crypto.open("reports", "body", row[0], row[4]))
        return Report(
            row[0],
            row[1],
            row[2],
            status,
            alert_id,
            content,
            withdraw=bool(extra.get("withdraw")),
            help=bool(extra.get("help")),
            messages=tuple(extra.get("messages", ())),
        )

    async def get(self, report_id: int) -> Report:
        row = await self._db.fetchone(
            f"SELECT {_REPORT_COLUMNS} FROM reports WHERE id = ?",  # noqa: S608
            (report_id,),
        )
        if row is None:
            raise NotFound("no such report")
        return self._report(row)

    async def list(
        self, *, member_id: int | None = None, status: str | None = None
    ) -> list[Report]:
        """Reports, newest first. The status is sealed, so it filters after opening."""
        where, params = "1", []
        if member_id is not None:
            where += " AND member_id = ?"
            params.append(member_id)
        rows = await self._db.fetchall(
            f"SELECT {_REPORT_COLUMNS} FROM reports"  # noqa: S608
            f" WHERE {where} ORDER BY created DESC, id DESC",
            params,
        )
        reports = [self._report(r) for r in rows]
        return [r for r in reports if status is None or r.status == status]

    async def by_alert(self, alert_id: bytes) -> Report | None:
        """The report an alert was published from, if it is still kept.

        The link is sealed, so this opens every kept report's state: a few hundred at
        most under the retention period, and only when a caseworker supersedes."""
        rows = await self._db.fetchall(
            f"SELECT {_REPORT_COLUMNS} FROM reports ORDER BY id DESC"  # noqa: S608
        )
        for row in rows:
            if open_report_state(self._crypto, row[0], row[3])[1] == alert_id:
                return self._report(row)
        return None

    async def _change(self, report_id: int, change: Callable[[State], State]) -> None:
        """Open a report's sealed state, apply ``change`` and seal the result, in one
        transaction. Raises NotFound."""
        async with self._db.transaction() as conn:
            rows = await conn.execute_fetchall(
                "SELECT state_enc FROM reports WHERE id = ?", (report_id,)
            )
            if not rows:
                raise NotFound("no such report")
            for (sealed,) in rows:
                status, alert_id, extra = change(
                    open_report_state_all(self._crypto, report_id, sealed)
                )
                state = seal_report_state(self._crypto, report_id, status, alert_id, extra)
                await conn.execute(
                    "UPDATE reports SET state_enc = ? WHERE id = ?", (state, report_id)
                )

    async def set_status(self, report_id: int, status: str, alert_id: bytes | None = None) -> None:
        """Set a report's status, and the alert published from it (kept if None). A
        report that is withdrawn has no withdrawal waiting any more."""

        def change(state: State) -> State:
            _, earlier, extra = state
            if status == "withdrawn":
                extra.pop("withdraw", None)
            return status, alert_id or earlier, extra

        # Deleted meanwhile (by its member, or retention): nothing to mark.
        with contextlib.suppress(NotFound):
            await self._change(report_id, change)

    async def set_requests(
        self, report_id: int, *, withdraw: bool | None = None, help: bool | None = None
    ) -> None:
        """Record what the member asks about her report (None keeps it). Raises NotFound."""

        def change(state: State) -> State:
            status, alert_id, extra = state
            for name, value in (("withdraw", withdraw), ("help", help)):
                if value is not None:
                    extra[name] = value
            return status, alert_id, extra

        await self._change(report_id, change)

    async def add_message(self, report_id: int, sender: str, text: str, now: int) -> None:
        """Keep a message between the member and the caseworkers on her report, dated
        by its day only. Raises NotFound."""

        def change(state: State) -> State:
            status, alert_id, extra = state
            message = {
                "from": sender,
                "day": coarsen_day(now),
                "text": text[:MAX_REPORT_MESSAGE_CHARS],
            }
            extra["messages"] = [*extra.get("messages", []), message][-MAX_REPORT_MESSAGES:]
            return status, alert_id, extra

        await self._change(report_id, change)

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
        """Delete reports whose whole day lies before ``cutoff``."""
        async with self._db.transaction() as conn:
            cur = await conn.execute("DELETE FROM reports WHERE created <= ?", (cutoff - DAY_S,))
            count = cur.rowcount
        if count:
            await self._db.checkpoint()
        return count


class AuditLog:
    """Who (a member id and role, never a nickname) did what to which alert, and on
    which day: all sealed but the day."""

    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self._db = db
        self._crypto = crypto

    async def append(self, now: int, entry: dict[str, Any]) -> None:
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO audit (at, entry_enc) VALUES (?, x'')", (coarsen_day(now),)
            )
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
        """Delete entries whose whole day lies before ``cutoff``."""
        async with self._db.transaction() as conn:
            cur = await conn.execute("DELETE FROM audit WHERE at <= ?", (cutoff - DAY_S,))
            count = cur.rowcount
        if count:
            await self._db.checkpoint()
        return count


class SettingsStore:
    """Admin-changed settings, their values sealed JSON (regions name where members
    work); defaults live in ``node.settings``."""

    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self._db = db
        self._crypto = crypto

    async def all(self) -> dict[str, Any]:
        rows = await self._db.fetchall("SELECT name, value_enc FROM settings")
        return {r[0]: open_setting(self._crypto, r[0], r[1]) for r in rows}

    async def put(self, name: str, value: Any) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO settings (name, value_enc) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value_enc = excluded.value_enc",
                (name, seal_setting(self._crypto, name, value)),
            )

    async def put_missing(self, values: dict[str, Any]) -> None:
        """Store each of ``values`` whose setting is unset or empty."""
        stored = await self.all()
        for name, value in values.items():
            if not stored.get(name):
                await self.put(name, value)
