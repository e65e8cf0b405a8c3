"""What a seized, locked node must not show in clear, and the coarse clocks of the store.

Rule: a member's passphrase verifier, a report's status and the alert it became (with
her requests about it and the messages between her and the caseworkers), and every
setting's value are sealed with ``RowCrypto`` (the row's identity as associated
data); times in clear columns are only as exact as retention and ordering need: a
member's, a report's and an audit entry's day, an invite's hour, an alert's hour.
Schema migration 5 (``seal_metadata``) brings a store made before this to that form.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiosqlite

from protocol.limits import DAY_S, HOUR_S

from ..keys.crypto import RowCrypto


def coarsen_day(t: int) -> int:
    """A Unix time rounded down to its day (UTC)."""
    return t - t % DAY_S


def month_of(t: int) -> str:
    """The calendar month (UTC) of a Unix time, as YYYY-MM: the finest time kept of a
    member vouching (vouches.py)."""
    return time.strftime("%Y-%m", time.gmtime(t))


def round_up_hour(t: int) -> int:
    """A Unix time rounded up to the next whole hour (an expiry, never shortened)."""
    return -(-t // HOUR_S) * HOUR_S


def seal_verifier(crypto: RowCrypto, member_id: int, verifier: str) -> bytes:
    return crypto.seal("members", "pass", member_id, verifier.encode())


def open_verifier(crypto: RowCrypto, member_id: int, sealed: bytes) -> str:
    """Raises StoreError if the value was tampered with or moved."""
    return crypto.open("members", "pass", member_id, sealed).decode()


def seal_report_state(
    crypto: RowCrypto,
    report_id: int,
    status: str,
    alert_id: bytes | None,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """A report's status and the id of the alert published from it, sealed together:
    "member 7's report became alert 2c48..." is nowhere in clear. ``extra`` holds what
    the member asked about her report (a withdrawal, help) and the messages between
    her and the caseworkers, sealed in the same value."""
    state = {**(extra or {}), "status": status, "alert": alert_id.hex() if alert_id else None}
    return crypto.seal("reports", "state", report_id, json.dumps(state).encode())


def open_report_state(crypto: RowCrypto, report_id: int, sealed: bytes) -> tuple[str, bytes | None]:
    """(status, alert id). Raises StoreError if the value was tampered with or moved."""
    status, alert, _ = open_report_state_all(crypto, report_id, sealed)
    return status, alert


def open_report_state_all(
    crypto: RowCrypto, report_id: int, sealed: bytes
) -> tuple[str, bytes | None, dict[str, Any]]:
    """(status, alert id, everything else in the state). Raises StoreError if the value
    was tampered with or moved."""
    state = json.loads(crypto.open("reports", "state", report_id, sealed))
    alert = state.pop("alert", None)
    status = str(state.pop("status"))
    return status, bytes.fromhex(alert) if alert else None, state


def seal_setting(crypto: RowCrypto, name: str, value: Any) -> bytes:
    return crypto.seal("settings", "value", name, json.dumps(value).encode())


def open_setting(crypto: RowCrypto, name: str, sealed: bytes) -> Any:
    """Raises StoreError if the value was tampered with or moved."""
    return json.loads(crypto.open("settings", "value", name, sealed))


# Migration 5 rebuilds three tables (the portable way: SQLite before 3.35 has no DROP
# COLUMN). It runs before foreign keys are switched on, so dropping the old members
# table cascades to nothing; ``Database.open`` checks the keys afterwards.
_MEMBERS = """
CREATE TABLE members_new (
    id INTEGER PRIMARY KEY,
    nick_tag BLOB NOT NULL UNIQUE,
    nick_enc BLOB NOT NULL,
    pass_enc BLOB NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('member', 'caseworker', 'admin')),
    created INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
)
"""
_REPORTS = """
CREATE TABLE reports_new (
    id INTEGER PRIMARY KEY,
    member_id INTEGER REFERENCES members (id) ON DELETE CASCADE,
    created INTEGER NOT NULL,
    state_enc BLOB NOT NULL,
    body_enc BLOB NOT NULL
)
"""
_SETTINGS = """
CREATE TABLE settings_new (
    name TEXT PRIMARY KEY,
    value_enc BLOB NOT NULL
)
"""


async def seal_metadata(conn: aiosqlite.Connection, crypto: RowCrypto) -> None:
    """Migration 5: seal passphrase verifiers, report states and settings; coarsen the
    times of member actions (days) and of stored alerts (hours)."""
    await conn.execute(_MEMBERS)
    members = await conn.execute_fetchall(
        "SELECT id, nick_tag, nick_enc, pass_hash, role, created, revoked FROM members"
    )
    for member_id, nick_tag, nick_enc, verifier, role, created, revoked in members:
        await conn.execute(
            "INSERT INTO members_new VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                member_id, nick_tag, nick_enc, seal_verifier(crypto, member_id, verifier),
                role, coarsen_day(created), revoked,
            ),
        )  # fmt: skip
    await conn.execute("DROP TABLE members")
    await conn.execute("ALTER TABLE members_new RENAME TO members")

    await conn.execute(_REPORTS)
    reports = await conn.execute_fetchall(
        "SELECT id, member_id, created, status, alert_id, body_enc FROM reports"
    )
    for report_id, member_id, created, status, alert_id, body_enc in reports:
        await conn.execute(
            "INSERT INTO reports_new VALUES (?, ?, ?, ?, ?)",
            (
                report_id, member_id, coarsen_day(created),
                seal_report_state(crypto, report_id, status, alert_id), body_enc,
            ),
        )  # fmt: skip
    await conn.execute("DROP TABLE reports")
    await conn.execute("ALTER TABLE reports_new RENAME TO reports")
    await conn.execute("CREATE INDEX reports_member ON reports (member_id)")
    await conn.execute("CREATE INDEX reports_created ON reports (created)")

    await conn.execute(_SETTINGS)
    for name, value in await conn.execute_fetchall("SELECT name, value FROM settings"):
        await conn.execute(
            "INSERT INTO settings_new VALUES (?, ?)",
            (name, seal_setting(crypto, name, json.loads(value))),
        )
    await conn.execute("DROP TABLE settings")
    await conn.execute("ALTER TABLE settings_new RENAME TO settings")

    await conn.execute("UPDATE audit SET at = at - at % ?", (DAY_S,))
    for code_tag, created, expires in await conn.execute_fetchall(
        "SELECT code_tag, created, expires FROM invites"
    ):
        await conn.execute(
            "UPDATE invites SET created = ?, expires = ? WHERE code_tag = ?",
            (coarsen_day(created), round_up_hour(expires), code_tag),
        )
    await conn.execute("UPDATE alerts SET stored_at = stored_at - stored_at % ?", (HOUR_S,))
    await conn.execute("UPDATE retractions SET stored_at = stored_at - stored_at % ?", (HOUR_S,))
