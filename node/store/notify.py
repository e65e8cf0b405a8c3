"""Notification channels, members' subscriptions and the outbox.

Rule: a channel's URL, a subscription's address and choices, and every queued message
(its recipient and text) are sealed with ``RowCrypto`` (the row's identity as
associated data); in clear are only a channel's name and kind, which member a
subscription belongs to (so deleting her deletes it), and what the queue needs to
schedule: a row's due time, attempts, channel and subscription. Removing a channel
or a subscription removes every message queued for it; deleted rows are not left
in the database files (secure_delete, and a checkpoint after deletions).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from ..errors import NotFound, UsageError
from ..keys.crypto import RowCrypto
from .db import Database

MAX_CHANNELS = 50
MAX_SUBSCRIPTIONS_PER_MEMBER = 5
# The outbox is bounded: past this, new immediate messages are dropped (and counted),
# so a dead service cannot fill the disk.
MAX_OUTBOX_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    kind: str
    url: str


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    member_id: int
    channel: str
    address: str
    regions: tuple[str, ...]  # empty: every region
    min_danger: int
    digest: bool  # False: each alert at once; True: one message a day
    lang: str
    content: bool  # she opted in to the alert's structured parts and description

    def prefs(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "regions": list(self.regions),
            "min_danger": self.min_danger,
            "digest": self.digest,
            "lang": self.lang,
            "content": self.content,
        }


@dataclass(frozen=True, slots=True)
class Queued:
    """One message in the outbox."""

    id: int
    channel: str
    subscription: int | None
    digest: bool
    due: int
    attempts: int
    payload: dict[str, Any]  # {"to", "title", "body"} or a digest's {"to", ..., "count"}


class NotifyStore:
    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self._db = db
        self._crypto = crypto
        # The notifier's cursor once read or written (only set_cursor writes it): the
        # notifier reads it each time an alert is stored.
        self._cursor: int | None = None

    # --- channels ---------------------------------------------------------------

    async def add_channel(self, name: str, kind: str, url: str) -> None:
        """Raises UsageError if the name is taken or there are too many channels."""
        sealed = self._crypto.seal("channels", "url", name, url.encode())
        async with self._db.transaction() as conn:
            rows = await conn.execute_fetchall("SELECT name FROM channels")
            names = {r[0] for r in rows}
            if name in names:
                raise UsageError(f"a channel named {name} exists; remove it first")
            if len(names) >= MAX_CHANNELS:
                raise UsageError(f"a node has at most {MAX_CHANNELS} channels")
            await conn.execute(
                "INSERT INTO channels (name, kind, url_enc) VALUES (?, ?, ?)", (name, kind, sealed)
            )

    async def channels(self) -> list[Channel]:
        rows = await self._db.fetchall("SELECT name, kind, url_enc FROM channels ORDER BY name")
        return [Channel(r[0], r[1], self._open_url(r[0], r[2])) for r in rows]

    async def channel(self, name: str) -> Channel:
        """Raises NotFound."""
        row = await self._db.fetchone(
            "SELECT name, kind, url_enc FROM channels WHERE name = ?", (name,)
        )
        if row is None:
            raise NotFound("no channel of that name")
        return Channel(row[0], row[1], self._open_url(row[0], row[2]))

    def _open_url(self, name: str, sealed: bytes) -> str:
        return self._crypto.open("channels", "url", name, sealed).decode()

    async def remove_channel(self, name: str) -> int:
        """Remove a channel, its subscriptions and its queue; how many subscriptions
        went with it. Raises NotFound."""
        async with self._db.transaction() as conn:
            rows = await conn.execute_fetchall(
                "SELECT count(*) FROM subscriptions WHERE channel = ?", (name,)
            )
            cur = await conn.execute("DELETE FROM channels WHERE name = ?", (name,))
            if cur.rowcount == 0:
                raise NotFound("no channel of that name")
        await self._db.checkpoint()
        return int(next(iter(rows))[0])

    async def queue_lengths(self) -> dict[str, int]:
        rows = await self._db.fetchall("SELECT channel, count(*) FROM outbox GROUP BY channel")
        return {r[0]: int(r[1]) for r in rows}

    # --- subscriptions ------------------------------------------------------------

    def _seal_prefs(self, sub_id: int, prefs: dict[str, Any]) -> bytes:
        return self._crypto.seal("subscriptions", "prefs", sub_id, json.dumps(prefs).encode())

    def _subscription(self, row: Any) -> Subscription:
        p = json.loads(self._crypto.open("subscriptions", "prefs", row[0], row[3]))
        return Subscription(
            row[0], row[1], row[2], p["address"], tuple(p["regions"]), p["min_danger"],
            p["digest"], p["lang"], p["content"],
        )  # fmt: skip

    async def subscribe(self, member_id: int, channel: str, prefs: dict[str, Any]) -> int:
        """A new subscription of ``member_id``; its id. Raises NotFound (no such
        channel), UsageError (too many)."""
        async with self._db.transaction() as conn:
            found = await conn.execute_fetchall("SELECT 1 FROM channels WHERE name = ?", (channel,))
            if not list(found):
                raise NotFound("no channel of that name")
            count = await conn.execute_fetchall(
                "SELECT count(*) FROM subscriptions WHERE member_id = ?", (member_id,)
            )
            if int(next(iter(count))[0]) >= MAX_SUBSCRIPTIONS_PER_MEMBER:
                raise UsageError(f"at most {MAX_SUBSCRIPTIONS_PER_MEMBER} subscriptions each")
            # The row's id is its seal's associated data: insert, then seal in place.
            cur = await conn.execute(
                "INSERT INTO subscriptions (member_id, channel, prefs_enc) VALUES (?, ?, x'')",
                (member_id, channel),
            )
            sub_id = int(cur.lastrowid or 0)
            await conn.execute(
                "UPDATE subscriptions SET prefs_enc = ? WHERE id = ?",
                (self._seal_prefs(sub_id, prefs), sub_id),
            )
        return sub_id

    async def update_subscription(self, member_id: int, sub_id: int, prefs: dict[str, Any]) -> None:
        """Raises NotFound (not hers)."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE subscriptions SET prefs_enc = ? WHERE id = ? AND member_id = ?",
                (self._seal_prefs(sub_id, prefs), sub_id, member_id),
            )
            if cur.rowcount == 0:
                raise NotFound("no such subscription")

    async def unsubscribe(self, member_id: int, sub_id: int) -> None:
        """Remove a subscription and what is queued for it. Raises NotFound."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "DELETE FROM subscriptions WHERE id = ? AND member_id = ?", (sub_id, member_id)
            )
            if cur.rowcount == 0:
                raise NotFound("no such subscription")
        await self._db.checkpoint()

    async def member_subscriptions(self, member_id: int) -> list[Subscription]:
        rows = await self._db.fetchall(
            "SELECT id, member_id, channel, prefs_enc FROM subscriptions WHERE member_id = ?"
            " ORDER BY id",
            (member_id,),
        )
        return [self._subscription(r) for r in rows]

    async def all_subscriptions(self) -> list[Subscription]:
        # Read for every alert routed, and short: one row per subscription.
        rows = await self._db.quick(
            "SELECT s.id, s.member_id, s.channel, s.prefs_enc FROM subscriptions s"
            " JOIN members m ON m.id = s.member_id WHERE m.revoked = 0 ORDER BY s.id"
        )
        return [self._subscription(r) for r in rows]

    # --- the outbox ---------------------------------------------------------------

    def _seal_payload(self, row_id: int, payload: dict[str, Any]) -> bytes:
        return self._crypto.seal("outbox", "payload", row_id, json.dumps(payload).encode())

    async def enqueue(self, items: list[tuple[str, int | None, dict[str, Any]]], due: int) -> int:
        """Queue messages (channel, subscription, payload) due at ``due``; how many were
        queued (none past ``MAX_OUTBOX_ROWS``)."""
        queued = 0
        async with self._db.transaction() as conn:
            count = await conn.execute_fetchall("SELECT count(*) FROM outbox")
            room = MAX_OUTBOX_ROWS - int(next(iter(count))[0])
            for channel, sub_id, payload in items[: max(0, room)]:
                cur = await conn.execute(
                    "INSERT INTO outbox (channel, subscription, due, payload_enc)"
                    " VALUES (?, ?, ?, x'')",
                    (channel, sub_id, due),
                )
                row_id = int(cur.lastrowid or 0)
                await conn.execute(
                    "UPDATE outbox SET payload_enc = ? WHERE id = ?",
                    (self._seal_payload(row_id, payload), row_id),
                )
                queued += 1
        return queued

    async def add_to_digest(self, sub: Subscription, channel: str, due: int) -> None:
        """Count one more alert in ``sub``'s pending digest (made, due at ``due``, if
        there is none)."""
        async with self._db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT id, payload_enc FROM outbox WHERE subscription = ? AND digest = 1",
                    (sub.id,),
                )
            )
            if rows:
                row_id = int(rows[0][0])
                payload = self._open_payload(row_id, rows[0][1])
                payload["count"] += 1
                # Her latest choices apply to the digest still to go.
                payload.update(to=sub.address, lang=sub.lang, content=sub.content)
            else:
                cur = await conn.execute(
                    "INSERT INTO outbox (channel, subscription, digest, due, payload_enc)"
                    " VALUES (?, ?, 1, ?, x'')",
                    (channel, sub.id, due),
                )
                row_id = int(cur.lastrowid or 0)
                payload = {"to": sub.address, "lang": sub.lang, "content": sub.content, "count": 1}
            await conn.execute(
                "UPDATE outbox SET payload_enc = ? WHERE id = ?",
                (self._seal_payload(row_id, payload), row_id),
            )

    def _open_payload(self, row_id: int, sealed: bytes) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self._crypto.open("outbox", "payload", row_id, sealed))
        return value

    async def due(self, now: int, limit: int) -> list[Queued]:
        """Messages due at ``now``, oldest first."""
        rows = await self._db.quick(
            "SELECT id, channel, subscription, digest, due, attempts, payload_enc FROM outbox"
            " WHERE due <= ? ORDER BY due, id LIMIT ?",
            (now, limit),
        )
        return [
            Queued(r[0], r[1], r[2], bool(r[3]), r[4], r[5], self._open_payload(r[0], r[6]))
            for r in rows
        ]

    async def next_due(self) -> int | None:
        row = await self._db.quick_one("SELECT min(due) FROM outbox")
        return None if row is None or row[0] is None else int(row[0])

    async def delivered(self, row_id: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM outbox WHERE id = ?", (row_id,))

    async def retry_at(self, row_id: int, due: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET due = ?, attempts = attempts + 1 WHERE id = ?", (due, row_id)
            )

    async def defer(self, row_id: int, due: int) -> None:
        """Move a message to ``due`` without counting a try (its channel is failing)."""
        async with self._db.transaction(synced=False) as conn:
            await conn.execute("UPDATE outbox SET due = ? WHERE id = ?", (due, row_id))

    async def cursor(self) -> int | None:
        """The last log position routed to subscribers (None: never started)."""
        if self._cursor is None:
            row = await self._db.fetchone("SELECT value FROM meta WHERE name = 'notify_pos'")
            self._cursor = None if row is None else int(row[0])
        return self._cursor

    async def set_cursor(self, pos: int) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('notify_pos', ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (pos,),
            )

        self._cursor = None  # read again if the write fails
        # The notifier moves it for every new alert: one hop to the database thread,
        # or none when the thread is idle.
        await self._db.write(write, synced=False, quick=True)
        self._cursor = pos
