"""Monthly totals for reports to funders: a table of (month, counter) -> number.

Rule: nothing finer than a calendar month (UTC) and nothing about any one member,
report or alert is stored here: a counter is bumped when a check, a report, a publish,
a sign-up or an alert from a peer happens, and ``members`` is a gauge (the number of
accounts when last recorded in that month). Rows are never deleted by retention: they
hold no personal data.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import sqlite3

import aiosqlite

from .db import Database

log = logging.getLogger(__name__)

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


class HeldCount:
    """One counter's bumps kept in memory and written every ``every`` of them, and by
    ``flush``: for counts too frequent for a write each (a member's checks).

    The write that ``add`` starts runs beside its caller, who does not wait for it
    (during a catch-up a write can wait a batch's transaction, hundreds of
    milliseconds). A write that fails leaves its counts held for the next one."""

    def __init__(self, totals: TotalsStore, counter: str, every: int) -> None:
        if counter not in COUNTERS:
            raise ValueError(f"unknown counter {counter}")
        self._totals = totals
        self._counter = counter
        self._every = every
        # month -> (a time in that month, how many), not yet written.
        self._held: dict[str, tuple[int, int]] = {}
        self._writing: asyncio.Task[None] | None = None

    @property
    def held(self) -> int:
        return sum(n for _, n in self._held.values())

    def add(self, now: int) -> None:
        """Count one at ``now``; start a write once ``every`` are held."""
        month = month_of(now)
        first, n = self._held.get(month, (now, 0))
        self._held[month] = (first, n + 1)
        if self.held >= self._every and (self._writing is None or self._writing.done()):
            self._writing = asyncio.ensure_future(self._write_logged())

    async def flush(self) -> None:
        """Write every count held (after the write already under way, if any)."""
        if self._writing is not None:
            await asyncio.wait([self._writing])
        await self._write()

    async def _write_logged(self) -> None:
        try:
            await self._write()
        except (sqlite3.Error, OSError) as exc:
            log.warning("the %s count was not written (%s)", self._counter, type(exc).__name__)

    async def _write(self) -> None:
        pending, self._held = self._held, {}
        try:
            while pending:
                month, (at, n) = next(iter(pending.items()))
                await self._totals.bump(self._counter, at, n)
                del pending[month]
        finally:
            # What was not written is held again, with the counts made meanwhile.
            for month, (at, n) in pending.items():
                first, m = self._held.get(month, (at, 0))
                self._held[month] = (min(first, at), m + n)
