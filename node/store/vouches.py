"""Members vouching for newcomers: how many member invites each member may still make
this month, and how many were made and used, as counts only.

Rule: the node never records who vouched for whom. An invite a member makes is an
ordinary invite row with a ``vouched`` flag (no creator column) that is deleted when it
is used; a member's monthly allowance is a row keyed by a keyed tag of (member, month)
holding only a number, so a copy of the database does not say which member it counts
and, even with the key, it never names an invite or the person who used it; the
admin sees two numbers a month (invites members made, people who joined with one).
No audit line is written for a member's invite.
"""

from __future__ import annotations

import datetime

from ..errors import Forbidden
from ..keys.crypto import RowCrypto
from .db import Database
from .members import new_invite_code, normalise_invite
from .sealed import coarsen_day, month_of, round_up_hour

# Allowance rows are kept for this many months, then purged with the rest.
KEEP_MONTHS = 2


class VouchStore:
    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self._db = db
        self._crypto = crypto

    def _tag(self, member_id: int, month: str) -> bytes:
        return self._crypto.tag("vouch-allowance", f"{member_id}:{month}".encode())

    async def used(self, member_id: int, now: int) -> int:
        """How many member invites ``member_id`` made this month."""
        month = month_of(now)
        row = await self._db.fetchone(
            "SELECT used FROM vouch_allowance WHERE tag = ?", (self._tag(member_id, month),)
        )
        return int(row[0]) if row else 0

    async def create(self, member_id: int, allowed: int, expires: int, now: int) -> str:
        """A new member invite made by ``member_id``, counted against ``allowed`` a month.
        Raises Forbidden when the month's allowance is used up (or vouching is off)."""
        month = month_of(now)
        tag = self._tag(member_id, month)
        code = new_invite_code()
        code_tag = self._crypto.tag("invite", normalise_invite(code).encode())
        async with self._db.transaction() as conn:
            async with conn.execute(
                "SELECT used FROM vouch_allowance WHERE tag = ?", (tag,)
            ) as cur:
                row = await cur.fetchone()
            used = int(row[0]) if row else 0
            if used >= allowed:
                raise Forbidden("no member invites are left this month")
            await conn.execute(
                "INSERT INTO vouch_allowance (tag, month, used) VALUES (?, ?, 1)"
                " ON CONFLICT (tag) DO UPDATE SET used = used + 1",
                (tag, month),
            )
            await conn.execute(
                "INSERT INTO invites (code_tag, role, created, expires, vouched)"
                " VALUES (?, 'member', ?, ?, 1)",
                (code_tag, coarsen_day(now), round_up_hour(expires)),
            )
            await conn.execute(
                "INSERT INTO vouch_totals (month, created, joined) VALUES (?, 1, 0)"
                " ON CONFLICT (month) DO UPDATE SET created = created + 1",
                (month,),
            )
        return code

    async def totals(self, now: int) -> dict[str, int]:
        """This month's counts: ``created`` (member invites made), ``joined`` (people
        who signed up with one)."""
        row = await self._db.fetchone(
            "SELECT created, joined FROM vouch_totals WHERE month = ?", (month_of(now),)
        )
        return {"created": int(row[0]) if row else 0, "joined": int(row[1]) if row else 0}

    async def purge(self, now: int) -> int:
        """Drop allowance rows of months before the last ``KEEP_MONTHS``."""
        day = datetime.datetime.fromtimestamp(now, datetime.UTC).date().replace(day=1)
        for _ in range(KEEP_MONTHS - 1):
            day = (day - datetime.timedelta(days=1)).replace(day=1)
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "DELETE FROM vouch_allowance WHERE month < ?", (day.strftime("%Y-%m"),)
            )
        return cur.rowcount
