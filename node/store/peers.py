"""The trust list: peers, their sync progress, and the origin block list.

Rule: a peer's card (name, URLs, TLS pin set and when the pin set was last replaced
by a pin statement) is sealed; only its key,
the admin's policy and sync counters are in the clear, which is what the federation
server needs to authenticate a caller without decrypting anything per request.
"""

from __future__ import annotations

import builtins
import sqlite3
from functools import partial
from typing import Any

import msgpack

from federation.trust import ACCEPT_MODES, Peer

from ..errors import NotFound, UsageError
from ..keys.crypto import RowCrypto
from .db import Database
from .peer_rows import COLUMNS, PeerRows

# What is kept of a peer's last error: the message a person reads, and its code.
MAX_ERROR_CHARS = 300
MAX_CODE_CHARS = 40
# Opened peer cards kept in memory at most (PeerStore._card); far above any trust list.
MAX_OPEN_CARDS = 4096


def _execute(sql: str, params: tuple[Any, ...], conn: sqlite3.Connection) -> None:
    """On the database thread: one statement (for ``Database.write``)."""
    conn.execute(sql, params)


class PeerStore:
    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self._db = db
        self._crypto = crypto
        # Peers whose last pull refused nothing, as this store last wrote it (only
        # record_refusals writes that count): a clean pull after a clean pull writes
        # nothing, so it skips the database altogether.
        self._clean: set[bytes] = set()
        # Opened cards by (key, sealed bytes): the server looks its caller up on every
        # request, and opening the card each time was a tenth of a relay's main-thread
        # time. A changed card is new sealed bytes, so nothing goes stale; the cache
        # lives and dies with this store (the unlocked node).
        self._cards: dict[tuple[bytes, bytes], dict[str, Any]] = {}
        # The trust list in memory between writes: every write to peers or peer_keys
        # below goes through self._rows (peer_rows), which then drops what it holds.
        self._rows = PeerRows(db)

    def _name_tag(self, name: str) -> bytes:
        return self._crypto.tag("peer-name", name.strip().casefold().encode())

    def _seal_card(
        self,
        key: bytes,
        name: str,
        urls: tuple[str, ...],
        pins: tuple[bytes, ...],
        pins_at: int | None = None,
        urls_at: int | None = None,
    ) -> bytes:
        # urls_at: the created time of the last move statement applied (or of the card
        # added), so that an older move cannot bring back an address the peer left.
        doc = {
            "name": name,
            "urls": list(urls),
            "pins": sorted(pins),
            "pins_at": pins_at,
            "urls_at": urls_at,
        }
        return self._crypto.seal("peers", "card", key, msgpack.packb(doc, use_bin_type=True))

    def _card(self, row: sqlite3.Row) -> dict[str, Any]:
        held = (bytes(row[0]), bytes(row[1]))
        card = self._cards.get(held)
        if card is None:
            card = msgpack.unpackb(self._crypto.open("peers", "card", row[0], row[1]), raw=False)
            if len(self._cards) >= MAX_OPEN_CARDS:
                self._cards.clear()
            self._cards[held] = card
        return dict(card)

    def _row(
        self, row: sqlite3.Row, previous: tuple[bytes, ...] = ()
    ) -> tuple[Peer, dict[str, Any]]:
        card = self._card(row)
        peer = Peer(
            key=row[0],
            name=card["name"],
            urls=tuple(card["urls"]),
            pins=tuple(card["pins"]),
            accept=row[2],
            share=bool(row[3]),
            suspended=bool(row[4]),
            proxy=row[5],
            cursor=row[6],
            epoch=row[7],
            entry_id=row[19],
            previous=previous,
        )
        last_error = None
        if row[11] is not None:
            last_error = {"code": row[13] or "bad_response", "message": row[11], "at": row[14]}
        last_refusal = None if row[17] is None else {"code": row[17], "at": row[18]}
        stats = {
            "last_sync": row[8],
            "items_received": row[9],
            "lag": row[10],
            "last_error": last_error,
            "added": row[12],
            "refused": {"count": row[15], "last_pull": row[16], "last": last_refusal},
        }
        return peer, stats

    async def add(
        self,
        key: bytes,
        name: str,
        urls: tuple[str, ...],
        pins: tuple[bytes, ...],
        *,
        accept: str,
        share: bool,
        proxy: str | None,
        now: int,
        pins_at: int | None = None,
    ) -> Peer:
        """Add a peer, or update the card of a known one (keeping its policy and cursor;
        the pin set becomes the card's, dated ``pins_at``: the card's ``created``, so
        no pin statement older than the card can replace it)."""
        if accept not in ACCEPT_MODES:
            raise UsageError(f"--accept is one of {', '.join(ACCEPT_MODES)}")
        sealed = self._seal_card(key, name, urls, pins, pins_at, pins_at)
        async with self._rows.transaction() as conn:
            known = await conn.execute_fetchall("SELECT 1 FROM peers WHERE key = ?", (key,))
            if known:
                await conn.execute(
                    "UPDATE peers SET name_tag = ?, card_enc = ? WHERE key = ?",
                    (self._name_tag(name), sealed, key),
                )
            else:
                # A new entry gets the next serial, never one a removed peer had.
                ((serial,),) = await conn.execute_fetchall(
                    "UPDATE meta SET value = value + 1 WHERE name = 'peer_serial' RETURNING value"
                )
                await conn.execute(
                    "INSERT INTO peers (key, name_tag, card_enc, accept, share, proxy, added,"
                    " entry_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, self._name_tag(name), sealed, accept, int(share), proxy, now, serial),
                )
        peer = await self.get(key)
        assert peer is not None
        return peer

    async def get(self, key: bytes) -> Peer | None:
        # From memory between writes: the server looks a caller up for every request,
        # and a pull or a poke looks its peer up too.
        held = await self._rows.read()
        peer = held.peers.get(key)
        if peer is None:
            row = held.by_key.get(key)
            if row is None:
                return None
            # Built once per snapshot: a Peer is frozen, so every caller can share it.
            peer = self._row(row, held.previous.get(key, ()))[0]
            held.peers[key] = peer
        return peer

    async def list(self) -> list[Peer]:
        return [p for p, _ in await self.list_with_stats()]

    async def list_with_stats(self) -> builtins.list[tuple[Peer, dict[str, Any]]]:
        held = await self._rows.read()
        out = []
        for row in held.rows:
            out.append(self._row(row, held.previous.get(bytes(row[0]), ())))
        return out

    async def find(self, key_or_name: str) -> Peer:
        """A peer by its key (hex, or a unique prefix of 8+ characters) or its name.

        Raises NotFound or UsageError (ambiguous).
        """
        text = key_or_name.strip()
        row = await self._db.fetchone(
            f"SELECT {COLUMNS} FROM peers WHERE name_tag = ?",  # noqa: S608
            (self._name_tag(text),),
        )
        if row is not None:
            return self._row(row)[0]
        lowered = text.lower()
        if len(lowered) >= 8 and all(c in "0123456789abcdef" for c in lowered):
            matches = [p for p in await self.list() if p.key.hex().startswith(lowered)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise UsageError("that key prefix matches more than one peer; give more of it")
        raise NotFound("no peer has that name or key; see 'alertnode peer list'")

    async def set_policy(
        self,
        key: bytes,
        *,
        accept: str | None = None,
        share: bool | None = None,
        suspended: bool | None = None,
        proxy: str | None = None,
    ) -> None:
        if accept is not None and accept not in ACCEPT_MODES:
            raise UsageError(f"--accept is one of {', '.join(ACCEPT_MODES)}")
        async with self._rows.transaction() as conn:
            await conn.execute(
                "UPDATE peers SET accept = COALESCE(?, accept), share = COALESCE(?, share),"
                " suspended = COALESCE(?, suspended), proxy = COALESCE(?, proxy) WHERE key = ?",
                (
                    accept,
                    None if share is None else int(share),
                    None if suspended is None else int(suspended),
                    proxy,
                    key,
                ),
            )

    async def remove(self, key: bytes) -> None:
        async with self._rows.transaction() as conn:
            removed = list(
                await conn.execute_fetchall(
                    "DELETE FROM peers WHERE key = ? RETURNING entry_id", (key,)
                )
            )
            if not removed:
                raise NotFound("no such peer")
            await conn.execute("DELETE FROM request_nonces WHERE entry_id = ?", (removed[0][0],))
            await conn.execute("DELETE FROM peer_keys WHERE peer = ?", (key,))
            await conn.execute("DELETE FROM rotation_outbox WHERE peer = ?", (key,))
        await self._db.checkpoint()

    async def save_progress(
        self,
        key: bytes,
        *,
        epoch: bytes,
        cursor: int,
        received: int,
        lag: int | None,
        now: int,
        synced: bool = True,
    ) -> None:
        # One transaction in one hop to the database thread (every pull saves it), or
        # none when unsynced and the thread is idle (Database.write's quick).
        # lag None: a pull of what a poke named, which did not read the feed's head.
        await self._rows.write(
            partial(
                _execute,
                "UPDATE peers SET epoch = ?, cursor = ?, items_received = items_received + ?,"
                " lag = coalesce(?, lag), last_sync = ?, last_error = NULL,"
                " last_error_code = NULL, last_error_at = NULL WHERE key = ?",
                (epoch, cursor, received, lag, now, key),
            ),
            synced=synced,
            quick=True,
        )

    async def record_error(self, key: bytes, code: str, message: str, now: int) -> None:
        """The last pull from ``key`` failed: its code, message and time, until one succeeds."""
        async with self._rows.transaction() as conn:
            await conn.execute(
                "UPDATE peers SET last_error = ?, last_error_code = ?, last_error_at = ?"
                " WHERE key = ?",
                (message[:MAX_ERROR_CHARS], code[:MAX_CODE_CHARS], now, key),
            )

    async def record_refusals(self, key: bytes, count: int, code: str | None, now: int) -> None:
        """A pull from ``key`` ended having refused ``count`` items, the last with ``code``.
        One transaction in one hop to the database thread, none when nothing changes."""
        if count == 0 and key in self._clean:
            return
        self._clean.discard(key)
        await self._rows.write(
            partial(
                _execute,
                "UPDATE peers SET refused = refused + ?, last_pull_refused = ?,"
                " last_refusal_code = CASE WHEN ? > 0 THEN ? ELSE last_refusal_code END,"
                " last_refusal_at = CASE WHEN ? > 0 THEN ? ELSE last_refusal_at END"
                # An idle pull after a clean one changes nothing, so it writes nothing.
                " WHERE key = ? AND (? > 0 OR last_pull_refused != 0)",
                (
                    count,
                    count,
                    count,
                    (code or "bad_response")[:MAX_CODE_CHARS],
                    count,
                    now,
                    key,
                    count,
                ),
            )
        )
        if count == 0:
            self._clean.add(key)

    async def replace_key(self, old: bytes, new: bytes, *, rotated_at: int | None = None) -> None:
        """A peer rotated its key: move its row (policy, cursor, previous keys, rotation
        statements still owed to it) to the new key, and remember ``old`` as its
        previous key from ``rotated_at`` (None: an admin's fix, nothing remembered)."""
        self._clean -= {old, new}
        row = await self._db.fetchone(f"SELECT {COLUMNS} FROM peers WHERE key = ?", (old,))  # noqa: S608
        if row is None:
            raise NotFound("no such peer")
        card = self._card(row)
        sealed = self._seal_card(
            new, card["name"], tuple(card["urls"]), tuple(card["pins"]), card["pins_at"],
            card.get("urls_at"),
        )  # fmt: skip
        async with self._rows.transaction() as conn:
            await conn.execute(
                "UPDATE peers SET key = ?, card_enc = ? WHERE key = ?", (new, sealed, old)
            )
            await conn.execute("UPDATE peer_keys SET peer = ? WHERE peer = ?", (new, old))
            await conn.execute("UPDATE rotation_outbox SET peer = ? WHERE peer = ?", (new, old))
            if rotated_at is not None:
                await conn.execute(
                    "INSERT OR REPLACE INTO peer_keys (old, peer, rotated_at) VALUES (?, ?, ?)",
                    (old, new, rotated_at),
                )

    async def accept_rotation(
        self, old: bytes, new: bytes, *, rotated_at: int, now: int, min_interval_s: int
    ) -> int | None:
        """A peer's own rotation from ``old`` to ``new``: move its entry (as
        ``replace_key``, remembering ``old`` from ``rotated_at``) unless the entry took a
        rotation less than ``min_interval_s`` before ``now``. None when moved, else when
        it took its last one (``now`` if no entry has ``old`` any more: a racing
        statement moved it). Check and move are one transaction, so two statements
        racing from one peer move it at most once."""
        async with self._rows.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    f"SELECT {COLUMNS}, rotation_taken_at FROM peers WHERE key = ?",  # noqa: S608
                    (old,),
                )
            )
            if not rows:
                return now  # it moved (a racing statement) or went since it signed
            taken = rows[0][20]
            if taken is not None and now - taken < min_interval_s:
                return int(taken)
            card = self._card(rows[0])
            sealed = self._seal_card(
                new, card["name"], tuple(card["urls"]), tuple(card["pins"]), card["pins_at"],
                card.get("urls_at"),
            )  # fmt: skip
            await conn.execute(
                "UPDATE peers SET key = ?, card_enc = ?, rotation_taken_at = ? WHERE key = ?",
                (new, sealed, now, old),
            )
            await conn.execute("UPDATE peer_keys SET peer = ? WHERE peer = ?", (new, old))
            await conn.execute("UPDATE rotation_outbox SET peer = ? WHERE peer = ?", (new, old))
            await conn.execute(
                "INSERT OR REPLACE INTO peer_keys (old, peer, rotated_at) VALUES (?, ?, ?)",
                (old, new, rotated_at),
            )
        return None

    async def retired_at(self, key: bytes) -> int | None:
        """When a node rotated away from ``key``, if this node knows it did: from a
        peer's own statement or one passed on by a peer (the earliest, if several)."""
        row = await self._db.quick_one(
            "SELECT min(at) FROM (SELECT rotated_at AS at FROM peer_keys WHERE old = ?"
            " UNION ALL SELECT rotated_at FROM rotation_statements WHERE old = ?)",
            (key, key),
        )
        return None if row is None or row[0] is None else int(row[0])

    async def record_statement(
        self,
        old: bytes,
        new: bytes,
        rotated_at: int,
        statement: bytes,
        *,
        via: int,
        cap: int | None,
    ) -> bool | None:
        """Keep a verified rotation statement, once per ``old``, charged to the entry
        ``via``: True if new here, False if one for ``old`` was kept already, None if
        ``via`` has ``cap`` statements charged to it already."""
        async with self._db.transaction() as conn:
            if await conn.execute_fetchall(
                "SELECT 1 FROM rotation_statements WHERE old = ?", (old,)
            ):
                return False
            if cap is not None:
                ((count,),) = await conn.execute_fetchall(
                    "SELECT count(*) FROM rotation_statements WHERE via = ?", (via,)
                )
                if count >= cap:
                    return None
            await conn.execute(
                "INSERT INTO rotation_statements (old, new, rotated_at, via, statement)"
                " VALUES (?, ?, ?, ?, ?)",
                (old, new, rotated_at, via, statement),
            )
        return True

    # --- rotation statements owed to peers ----------------------------------------

    async def queue_rotation(self, peers: builtins.list[bytes], statement: bytes, now: int) -> None:
        """Owe ``statement`` to each of ``peers``, due now, in one transaction."""
        async with self._db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO rotation_outbox (peer, statement, next_at) VALUES (?, ?, ?)",
                [(peer, statement, now) for peer in peers],
            )

    async def owed_rotations(self) -> builtins.list[tuple[int, bytes, bytes, int, int]]:
        """(id, peer, statement, attempts, next_at) of every statement owed, in order."""
        rows = await self._db.fetchall(
            "SELECT id, peer, statement, attempts, next_at FROM rotation_outbox ORDER BY id"
        )
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    async def rotation_delivered(self, item: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM rotation_outbox WHERE id = ?", (item,))

    async def rotation_failed(self, item: int, next_at: int, error: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE rotation_outbox SET attempts = attempts + 1, next_at = ?,"
                " last_error = ? WHERE id = ?",
                (next_at, error[:300], item),
            )

    async def outbox_size(self) -> int:
        row = await self._db.fetchone("SELECT count(*) FROM rotation_outbox")
        return 0 if row is None else int(row[0])

    async def set_pins(self, key: bytes, pins: tuple[bytes, ...], created: int) -> bool:
        """Replace a peer's pin set from a pin statement dated ``created``; False (and
        nothing changed) if a statement at least as recent was applied already.

        Raises NotFound."""
        async with self._rows.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(f"SELECT {COLUMNS} FROM peers WHERE key = ?", (key,))  # noqa: S608
            )
            if not rows:
                raise NotFound("no such peer")
            card = self._card(rows[0])
            if card["pins_at"] is not None and created <= card["pins_at"]:
                return False
            sealed = self._seal_card(
                key, card["name"], tuple(card["urls"]), pins, created, card.get("urls_at")
            )
            await conn.execute("UPDATE peers SET card_enc = ? WHERE key = ?", (sealed, key))
        return True

    async def set_urls(self, key: bytes, urls: tuple[str, ...], created: int) -> bool:
        """Replace a peer's federation URLs from a move statement dated ``created``
        (keys, pins, policy and cursor unchanged); False (and nothing changed) if a
        move or card at least as recent was applied already.

        Raises NotFound."""
        async with self._rows.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(f"SELECT {COLUMNS} FROM peers WHERE key = ?", (key,))  # noqa: S608
            )
            if not rows:
                raise NotFound("no such peer")
            card = self._card(rows[0])
            last = card.get("urls_at")
            if last is not None and created <= last:
                return False
            sealed = self._seal_card(
                key, card["name"], urls, tuple(card["pins"]), card["pins_at"], created
            )
            await conn.execute("UPDATE peers SET card_enc = ? WHERE key = ?", (sealed, key))
        return True

    # --- origin block list ------------------------------------------------------

    async def block_origin(self, origin: bytes, now: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO blocked_origins (origin, created) VALUES (?, ?)",
                (origin, now),
            )

    async def unblock_origin(self, origin: bytes) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM blocked_origins WHERE origin = ?", (origin,))

    async def blocked_origins(self) -> builtins.list[bytes]:
        return [r[0] for r in await self._db.fetchall("SELECT origin FROM blocked_origins")]
