"""Retractions, supersedes and the markers they leave: what an origin says about its alerts.

Rule: only an alert's origin can retract or supersede it, and an alert id names its
origin (the id hashes a body that holds the origin key). So a claim on an alert this
node does not hold yet is kept as a marker per (alert, origin) and acts only if the
alert, when it arrives, turns out to be that origin's: then the alert is kept as a
tombstone (no body, no indicators, no log entry). Claims by any other origin are
dropped at that moment; they never keep the alert out, never keep it from being
fetched, and never stand in the way of its origin's own retraction.
"""

from __future__ import annotations

import aiosqlite

from protocol.alert import VerifiedAlert, coarsen_hour
from protocol.retraction import VerifiedRetraction

from ..keys.crypto import RowCrypto


async def arrive(
    conn: aiosqlite.Connection,
    alert: VerifiedAlert,
    hops: int,
    received_from: bytes | None,
    now: int,
) -> tuple[str | None, bool]:
    """Settle the claims on ``alert``, which is not held yet, as it arrives.

    Returns the state its own origin's marker gives it ('retracted', 'superseded'),
    or None if it is to be stored active; and whether anything was deleted. A
    tombstone is written here; an active alert is left to the caller.
    """
    body = alert.body
    cur = await conn.execute(
        "DELETE FROM log WHERE id IN"
        " (SELECT id FROM retractions WHERE alert_id = ? AND origin != ?)",
        (alert.id, body.origin),
    )
    deleted = cur.rowcount > 0
    await conn.execute(
        "DELETE FROM retractions WHERE alert_id = ? AND origin != ?", (alert.id, body.origin)
    )
    async with conn.execute(
        "SELECT state FROM markers WHERE alert_id = ? AND origin = ?", (alert.id, body.origin)
    ) as cur:
        own = await cur.fetchone()
    cur = await conn.execute("DELETE FROM markers WHERE alert_id = ?", (alert.id,))
    deleted = deleted or cur.rowcount > 0
    if own is None:
        return None, deleted
    await conn.execute(
        "INSERT INTO alerts (id, origin, state, created, expires, hops, max_hops, tlp,"
        " received_from, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            alert.id, body.origin, own[0], body.created, body.expires, hops, body.hops,
            body.tlp, received_from, coarsen_hour(now),
        ),
    )  # fmt: skip
    # Its origin's retraction now reaches wherever the alert could go, for as long.
    await conn.execute(
        "UPDATE retractions SET expires = MAX(expires, ?) WHERE alert_id = ?",
        (body.expires, alert.id),
    )
    return str(own[0]), deleted


async def supersede(
    conn: aiosqlite.Connection,
    old_id: bytes,
    origin: bytes,
    expires: int,
    received_from: bytes | None,
    now: int,
) -> bool:
    """``origin`` replaced ``old_id``: drop its content if it is ``origin``'s and active,
    or mark it if it is not here yet. True if content went."""
    async with conn.execute("SELECT origin, state FROM alerts WHERE id = ?", (old_id,)) as cur:
        row = await cur.fetchone()
    if row is None:
        await conn.execute(
            "INSERT INTO markers (alert_id, origin, state, expires, received_from, stored_at)"
            " VALUES (?, ?, 'superseded', ?, ?, ?) ON CONFLICT (alert_id, origin)"
            " DO UPDATE SET expires = MAX(expires, excluded.expires)",
            (old_id, origin, expires, received_from, coarsen_hour(now)),
        )
        return False
    if row[0] == origin and row[1] == "active":
        await drop_content(conn, old_id, "superseded")
        return True
    return False


async def drop_content(conn: aiosqlite.Connection, alert_id: bytes, state: str) -> None:
    # Its facet rows go with the state change (schema migration 18's trigger).
    await conn.execute(
        "UPDATE alerts SET state = ?, body_enc = NULL, region_tag = NULL WHERE id = ?",
        (state, alert_id),
    )
    await conn.execute("DELETE FROM indicators WHERE alert_id = ?", (alert_id,))
    await conn.execute("DELETE FROM log WHERE id = ?", (alert_id,))


async def retract(
    conn: aiosqlite.Connection,
    crypto: RowCrypto,
    retraction: VerifiedRetraction,
    hops: int,
    received_from: bytes | None,
    now: int,
) -> tuple[bool, bool]:
    """Store a retraction: (whether it was new, whether content went).

    Not new if its origin already retracted that alert, or if the alert is held and
    another origin's. An alert not held yet gets a marker from this origin.
    """
    body = retraction.body
    async with conn.execute(
        "SELECT 1 FROM retractions WHERE alert_id = ? AND origin = ?", (body.alert, body.origin)
    ) as cur:
        if await cur.fetchone() is not None:
            return False, False
    async with conn.execute(
        "SELECT origin, expires FROM alerts WHERE id = ?", (body.alert,)
    ) as cur:
        row = await cur.fetchone()
    if row is not None and row[0] != body.origin:
        return False, False
    if row is None:
        await conn.execute(
            "INSERT INTO markers (alert_id, origin, state, expires, received_from, stored_at)"
            " VALUES (?, ?, 'retracted', ?, ?, ?) ON CONFLICT (alert_id, origin)"
            " DO UPDATE SET state = 'retracted', expires = MAX(expires, excluded.expires)",
            (body.alert, body.origin, body.expires, received_from, coarsen_hour(now)),
        )
    else:
        await drop_content(conn, body.alert, "retracted")
    sealed = crypto.seal("retractions", "envelope", retraction.id, retraction.envelope.to_bytes())
    await conn.execute(
        "INSERT INTO retractions (alert_id, id, origin, expires, hops, received_from,"
        " stored_at, envelope_enc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            body.alert, retraction.id, body.origin, max(body.expires, row[1] if row else 0),
            hops, received_from, coarsen_hour(now), sealed,
        ),
    )  # fmt: skip
    await conn.execute("INSERT INTO log (kind, id) VALUES ('r', ?)", (retraction.id,))
    return True, row is not None
