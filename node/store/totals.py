"""Monthly totals for reports to funders: a table of (month, counter) -> number.

Rule: nothing finer than a calendar month (UTC) and nothing about any one member,
report or alert is stored here: a counter is bumped when a check, a report, a publish,
a sign-up or an alert from a peer happens, and ``members`` is a gauge (the number of
accounts when last recorded in that month). Rows are never deleted by retention: they
hold no personal data.
"""

from __future__ import annotations

import datetime
import sqlite3

import aiosqlite

from .db import Database

# Counters bumped as things happen; GAUGES hold the latest value of the month.
COUNTERS = (
    "new_members",
    "checks",
    "reports",
    "alerts_published",
    "warnings_published",
    "alerts_received",
)
GAUGES = ("members",)
# What the table stores for each name: a short code, so that no word in the file says
# more than a number (a seized disk's scan for report states finds no "published").
CODES = {
    "new_members": "j",
    "checks": "c",
    "reports": "r",
    "alerts_published": "p",
    "warnings_published": "w",
    "alerts_received": "i",
    "members": "m",
}
NAMES = {code: name for name, code in CODES.items()}


def month_of(now: int) -> str:
    """The calendar month (UTC) of the Unix time ``now``, as YYYY-MM."""
    return datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y-%m")


_BUMP = (
    "INSERT INTO monthly_counts (month, counter, n) VALUES (?, ?, ?)"
    " ON CONFLICT (month, counter) DO UPDATE SET n = n + excluded.n"
)


async def bump_in(conn: aiosqlite.Connection, counter: str, now: int, n: int = 1) -> None:
    """Add ``n`` to ``counter`` for the month of ``now``, inside the caller's
    transaction (so the count and the thing counted are written together)."""
    if counter not in COUNTERS:
        raise ValueError(f"unknown counter {counter}")
    await conn.execute(_BUMP, (month_of(now), CODES[counter], n))


class TotalsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def bump(self, counter: str, now: int, n: int = 1, *, synced: bool = True) -> None:
        """Add ``n`` to ``counter`` for the month of ``now``. ``synced=False`` for
        frequent counts (checks): a crash may lose the last few, never a report."""
        if n <= 0:
            return
        if counter not in COUNTERS:
            raise ValueError(f"unknown counter {counter}")
        row = (month_of(now), CODES[counter], n)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(_BUMP, row)

        # One hop to the database thread (a stored batch of received alerts bumps one),
        # or none when unsynced and the thread is idle.
        await self._db.write(write, synced=synced, quick=True)

    async def set_gauge(self, gauge: str, now: int, value: int) -> None:
        if gauge not in GAUGES:
            raise ValueError(f"unknown gauge {gauge}")
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO monthly_counts (month, counter, n) VALUES (?, ?, ?)"
                " ON CONFLICT (month, counter) DO UPDATE SET n = excluded.n",
                (month_of(now), CODES[gauge], value),
            )

    async def months(self, first: str, last: str) -> dict[str, dict[str, int]]:
        """Every stored value of the months ``first`` to ``last`` (YYYY-MM, inclusive)."""
        rows = await self._db.fetchall(
            "SELECT month, counter, n FROM monthly_counts WHERE month BETWEEN ? AND ?"
            " ORDER BY month",
            (first, last),
        )
        out: dict[str, dict[str, int]] = {}
        for month, code, n in rows:
            if code in NAMES:
                out.setdefault(month, {})[NAMES[code]] = int(n)
        return out

    async def first_month(self) -> str | None:
        row = await self._db.fetchone("SELECT min(month) FROM monthly_counts")
        return None if row is None or row[0] is None else str(row[0])
