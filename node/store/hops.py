"""Shorter paths: lowering the hop count of an alert held here (docs/protocol.md,
section 10, "A shorter path").

Rule: a stored hop count only ever goes down, and only for an active, unexpired
alert: a tombstone (retracted or superseded) or an expired alert is never touched, so
nothing comes back. A lowered alert's log entry moves to a new position (positions
only grow), so a peer whose cursor is past the old one sees it again, at the lower
count. An entry the notifier had already passed keeps it from being routed twice
(``relisted``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .db import Database


@dataclass(frozen=True, slots=True)
class HeldHops:
    """What a shorter path is weighed against: an active alert held here."""

    origin: bytes
    hops: int
    max_hops: int
    tlp: str


class ShorterPaths:
    """Mixed into ``AlertStore``: the hop counts of held alerts, and lowering them."""

    _db: Database

    async def held_hops(self, ids: Sequence[bytes], now: int) -> dict[bytes, HeldHops]:
        """Origin, hop count, hop limit and label of each active, unexpired alert among
        ``ids`` (tombstones and expired alerts are left out)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = await self._db.quick(
            f"SELECT id, origin, hops, max_hops, tlp FROM alerts WHERE id IN ({marks})"  # noqa: S608
            " AND state = 'active' AND expires > ?",
            (*ids, now),
            keys=len(ids),
        )
        return {bytes(r[0]): HeldHops(bytes(r[1]), r[2], r[3], r[4]) for r in rows}

    async def lower_hops(self, lowered: Sequence[tuple[bytes, int]], now: int) -> list[bytes]:
        """Set each (alert id, hop count) where that is lower than the count held, for
        active, unexpired alerts only, and move each lowered alert's log entry to a new
        position; the ids lowered, in one transaction. A count that is not lower (a
        peer's copy no better than ours) changes nothing."""
        done: list[bytes] = []
        if not lowered:
            return done
        async with self._db.transaction() as conn:
            async with conn.execute(
                "SELECT value FROM meta WHERE name = 'notify_pos'"
            ) as cur:  # fmt: skip
                row = await cur.fetchone()
            routed_to = int(row[0]) if row is not None else None
            for alert_id, hops in lowered:
                cur = await conn.execute(
                    "UPDATE alerts SET hops = ? WHERE id = ? AND hops > ?"
                    " AND state = 'active' AND expires > ?",
                    (hops, alert_id, hops, now),
                )
                if cur.rowcount != 1:
                    continue
                async with conn.execute(
                    "SELECT pos, relisted FROM log WHERE id = ? AND kind = 'a'", (alert_id,)
                ) as cur:
                    entry = await cur.fetchone()
                if entry is None:
                    continue
                # Routed already if the notifier passed this entry, or an earlier one of
                # it (or never started: it starts from the head and routes nothing older).
                relisted = bool(entry[1]) or routed_to is None or routed_to >= entry[0]
                await conn.execute("DELETE FROM log WHERE id = ?", (alert_id,))
                await conn.execute(
                    "INSERT INTO log (kind, id, relisted) VALUES ('a', ?, ?)",
                    (alert_id, int(relisted)),
                )
                done.append(alert_id)
        return done
