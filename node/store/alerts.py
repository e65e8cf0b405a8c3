"""Alerts, retractions, tombstones, markers and the changes-feed log.

Rule: an alert id is stored at most once, ever, while it is unexpired: a retracted
or superseded alert leaves a tombstone row (no body, no indicators, no log entry)
that keeps a late copy from coming back. The alerts table holds only alerts that
arrived (so each row's origin is the alert's own); a claim on an alert not held yet
is a marker of its origin's (claims.py). Every row the feed serves has exactly one
log position (feed.py); positions only grow. Bodies are sealed at rest; indicator and
region columns hold keyed tags. ``stored_at`` is kept to the hour, like an alert's
``created`` (the second a caseworker published is nowhere in clear).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import aiosqlite

from protocol.alert import VerifiedAlert, coarsen_hour
from protocol.retraction import VerifiedRetraction

from ..keys.crypto import RowCrypto
from . import claims
from .db import Database, on_thread
from .feed import FeedLog
from .hops import ShorterPaths
from .pages import AlertPages, facet_tags, is_warning, warning_tag
from .usage import QuotaUsage

# An unsynced batch of at most this many new alerts may be written on the event loop's
# thread while the database thread is idle (``Database.write``'s quick): a relayed
# alert arrives alone, and sealing and inserting one takes a fraction of a millisecond.
QUICK_BATCH_ITEMS = 4

# One item to store: a verified alert or retraction, our hop count, and the peer it
# came from (None for this node's own).
BatchItem = tuple[VerifiedAlert | VerifiedRetraction, int, bytes | None]


@dataclass(frozen=True, slots=True)
class ActiveRow:
    """One active alert as written: the alerts row, its indicator tags, its id."""

    row: tuple[object, ...]
    tags: list[tuple[bytes, bytes]]
    id: bytes
    # (suite, key id, expires) of each network key its indicators were blinded with.
    keys: tuple[tuple[int, bytes, int], ...] = ()
    # (tag, created, id) of each of its facets (pages.py): categories and danger.
    facets: tuple[tuple[bytes, int, bytes], ...] = ()


def write_active(conn: sqlite3.Connection, rows: Sequence[ActiveRow]) -> None:
    """The one statement set that stores active alerts (with their tags and log); on
    the database thread."""
    conn.executemany(
        "INSERT INTO alerts (id, origin, state, created, expires, hops, max_hops, tlp,"
        " received_from, region_tag, stored_at, body_enc)"
        " VALUES (?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [r.row for r in rows],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO indicators (tag, alert_id) VALUES (?, ?)",
        [tag for r in rows for tag in r.tags],
    )
    conn.executemany("INSERT INTO log (kind, id) VALUES ('a', ?)", [(r.id,) for r in rows])
    conn.executemany(
        "INSERT OR IGNORE INTO alert_facets (tag, created, alert_id) VALUES (?, ?, ?)",
        [facet for r in rows for facet in r.facets],
    )
    conn.executemany(
        "INSERT INTO indicator_keys (suite, key_id, expires) VALUES (?, ?, ?)"
        " ON CONFLICT (suite, key_id) DO UPDATE SET expires = MAX(expires, excluded.expires)",
        [key for r in rows for key in r.keys],
    )


@dataclass(frozen=True, slots=True)
class StoredAlert:
    id: bytes
    origin: bytes
    hops: int
    received_from: bytes | None
    envelope: bytes


class AlertStore(FeedLog, QuotaUsage, AlertPages, ShorterPaths):
    """The alerts side of the store: what federation reads and writes (its FeedStore)."""

    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        super().__init__(db)
        self._crypto = crypto
        # Grows whenever alerts' content may have been deleted (retracted, superseded,
        # expired, purged): caches of decoded alerts (node/display.py) empty on a change.
        self.removals = 0
        # Grows whenever alerts were stored or removed (the region list in regions.py).
        self.changes = 0
        self.pages_in_flight = {}

    def indicator_tag(self, kind: str, blinded: bytes) -> bytes:
        return self._crypto.tag("indicator", kind.encode() + b":" + blinded)

    def region_tag(self, region: str) -> bytes:
        return self._crypto.tag("region", region.encode())

    async def put_alert(
        self, alert: VerifiedAlert, *, hops: int, received_from: bytes | None, now: int
    ) -> bool:
        """Store a verified alert. False if its id is already known (or tombstoned)."""
        return (await self.put_batch([(alert, hops, received_from)], now))[0]

    async def put_retraction(
        self, retraction: VerifiedRetraction, *, hops: int, received_from: bytes | None, now: int
    ) -> bool:
        """Store a verified retraction and drop its alert's content.

        False if its origin already retracted that alert, or if the alert it names is
        held and from another origin. An alert not held yet gets a marker (claims.py).
        """
        return (await self.put_batch([(retraction, hops, received_from)], now))[0]

    async def put_batch(
        self, items: Sequence[BatchItem], now: int, *, synced: bool = True
    ) -> list[bool]:
        """Store verified alerts and retractions in one transaction (one fsync).

        ``synced=False`` (a pull's batches) commits without waiting for the disk
        (``Database.transaction``): the pull saves its cursor in a synced transaction
        after its batches, which takes them to the disk with it, so a power cut loses
        at most batches whose cursor was not saved, and the next pull fetches them
        again. Returns, per item, whether it was new. A TRUNCATE checkpoint follows if anything
        was deleted (a retraction or a superseded alert), so no old page lingers in the WAL.

        A batch of new alerts that supersede nothing goes in one call to the database
        thread (``Database.write``): cancelled meanwhile, it still commits. Any other
        batch is rolled back if cancelled before its COMMIT.
        """
        if all(isinstance(i, VerifiedAlert) and i.body.supersedes is None for i, _, _ in items):
            # New alerts that supersede nothing (every relayed alert of a propagation,
            # nearly all of a catch-up): BEGIN, the rows and COMMIT in one hop to the
            # database thread, unless one of them was marked (then as below).
            try:
                plain = await self._db.write(
                    partial(self._store_plain, items, now, only_plain=True),
                    synced=synced,
                    quick=len(items) <= QUICK_BATCH_ITEMS,
                )
            except asyncio.CancelledError:
                # The call ran to its end (committed) before the cancellation was seen:
                # whatever it stored, the views read from the alerts are read again.
                self.changes += 1
                raise
            if plain is not None:
                if plain:
                    self.changes += 1
                return [n in plain for n in range(len(items))]
        results: list[bool] = [False] * len(items)
        deleted = False
        async with self._db.transaction(synced=synced) as conn:
            # Plain new alerts (the bulk of any catch-up) are found, sealed and written
            # in one job on the database thread, so the event loop spends nothing on
            # their rows; anything that needs a decision goes one by one after.
            in_bulk = await on_thread(conn, partial(self._store_plain, items, now)) or set()
            for n in in_bulk:
                results[n] = True
            for n, (item, hops, received_from) in enumerate(items):
                if n in in_bulk:
                    continue
                if isinstance(item, VerifiedAlert):
                    stored, dropped = await self._insert_alert(conn, item, hops, received_from, now)
                else:
                    stored, dropped = await claims.retract(
                        conn, self._crypto, item, hops, received_from, now
                    )
                results[n] = stored
                deleted = deleted or dropped
        if deleted:
            self.removals += 1
        if deleted or any(results):
            self.changes += 1
        if deleted:
            await self._db.checkpoint()
        return results

    def active_row(
        self, alert: VerifiedAlert, hops: int, received_from: bytes | None, now: int
    ) -> ActiveRow:
        """What ``insert_active`` writes for one verified alert."""
        body = alert.body
        return self.row_for(
            alert.id, body.origin, body.created, body.expires, body.hops, body.tlp,
            self.region_tag(body.region), alert.envelope.to_bytes(),
            [(i.kind, i.blinded) for i in body.indicators], hops, received_from, now,
            key_ids=[(i.suite, i.key_id) for i in body.indicators],
            categories=body.categories, danger=body.danger, warning=is_warning(body),
        )  # fmt: skip

    def row_for(
        self,
        alert_id: bytes,
        origin: bytes,
        created: int,
        expires: int,
        max_hops: int,
        tlp: str,
        region_tag: bytes,
        envelope: bytes,
        indicators: Sequence[tuple[str, bytes]],
        hops: int,
        received_from: bytes | None,
        now: int,
        key_ids: Sequence[tuple[int, bytes]] = (),
        *,
        categories: Sequence[str],
        danger: int,
        warning: bool = False,
    ) -> ActiveRow:
        """The row, tags and log entry of one active alert (bench/ loads through this)."""
        row = (
            alert_id, origin, created, expires, hops, max_hops, tlp, received_from,
            region_tag, coarsen_hour(now), self._crypto.seal("alerts", "body", alert_id, envelope),
        )  # fmt: skip
        tags = [(self.indicator_tag(kind, blinded), alert_id) for kind, blinded in indicators]
        keys = tuple((suite, key_id, expires) for suite, key_id in dict.fromkeys(key_ids))
        facets = tuple(
            (tag, created, alert_id)
            for tag in facet_tags(self._crypto, categories, danger, warning=warning)
        )
        return ActiveRow(row, tags, alert_id, keys, facets)

    @staticmethod
    async def insert_active(conn: aiosqlite.Connection, rows: Sequence[ActiveRow]) -> None:
        """The one statement set that stores active alerts (with their tags and log)."""
        await on_thread(conn, partial(write_active, rows=rows))

    def _store_plain(
        self,
        items: Sequence[BatchItem],
        now: int,
        conn: sqlite3.Connection,
        *,
        only_plain: bool = False,
    ) -> set[int] | None:
        """On the database thread, inside the batch's transaction: store the items of
        ``items`` that are plain new alerts (no supersedes, id not held, not marked,
        not twice in the batch) and return their positions.

        ``only_plain`` (every item an alert that supersedes nothing): None, with
        nothing written, if one of them is marked, so that the whole batch is decided
        one by one; what is not stored then is held already (or twice in the batch)."""
        ids = [item.id for item, _, _ in items]
        marks = ",".join("?" * len(ids))
        existing: set[bytes] = set()
        marked = False
        for alert_id, is_marker in conn.execute(
            f"SELECT id, 0 FROM alerts WHERE id IN ({marks})"  # noqa: S608
            f" UNION ALL SELECT alert_id, 1 FROM markers WHERE alert_id IN ({marks})",
            (*ids, *ids),
        ):
            existing.add(alert_id)
            marked = marked or bool(is_marker)
        if only_plain and marked:
            return None
        bulk: dict[bytes, int] = {}
        for n, (item, _, _) in enumerate(items):
            if (
                isinstance(item, VerifiedAlert)
                and item.body.supersedes is None
                and item.id not in existing
                and item.id not in bulk
            ):
                bulk[item.id] = n
        rows = []
        for n in bulk.values():
            alert, hops, received_from = items[n]
            assert isinstance(alert, VerifiedAlert)
            rows.append(self.active_row(alert, hops, received_from, now))
        write_active(conn, rows)
        return set(bulk.values())

    async def _insert_alert(
        self,
        conn: aiosqlite.Connection,
        alert: VerifiedAlert,
        hops: int,
        received_from: bytes | None,
        now: int,
    ) -> tuple[bool, bool]:
        body = alert.body
        async with conn.execute("SELECT 1 FROM alerts WHERE id = ?", (alert.id,)) as cur:
            if await cur.fetchone() is not None:
                return False, False
        state, dropped = await claims.arrive(conn, alert, hops, received_from, now)
        if body.supersedes is not None:
            superseded = await claims.supersede(
                conn, body.supersedes, body.origin, body.expires, received_from, now
            )
            dropped = dropped or superseded
        if state is not None:
            # Its origin withdrew it before it reached us: only the tombstone stays.
            return False, dropped
        await self.insert_active(conn, [self.active_row(alert, hops, received_from, now)])
        return True, dropped

    def _open_alert(self, alert_id: bytes, sealed: bytes) -> bytes:
        return self._crypto.open("alerts", "body", alert_id, sealed)

    async def get_alert(self, alert_id: bytes, now: int) -> StoredAlert | None:
        row = await self._db.fetchone(
            "SELECT id, origin, hops, received_from, body_enc FROM alerts"
            " WHERE id = ? AND state = 'active' AND expires > ?",
            (alert_id, now),
        )
        if row is None:
            return None
        return StoredAlert(row[0], row[1], row[2], row[3], self._open_alert(row[0], row[4]))

    async def get_envelopes(self, ids: list[bytes], now: int) -> dict[bytes, bytes]:
        """Envelopes of the active alerts and retractions among ``ids``, by id.

        Read and opened in one job on the database thread: a peer's bodies request
        (up to hundreds of envelopes) costs the event loop no decryption."""
        if not ids:
            return {}
        return await self._db.quick_run(partial(self._read_envelopes, ids, now), keys=len(ids))

    def _read_envelopes(
        self, ids: list[bytes], now: int, conn: sqlite3.Connection
    ) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        marks = ",".join("?" * len(ids))
        for row in conn.execute(
            f"SELECT id, body_enc FROM alerts WHERE id IN ({marks})"  # noqa: S608
            " AND state = 'active' AND expires > ?",
            (*ids, now),
        ):
            found[row[0]] = self._open_alert(row[0], row[1])
        for row in conn.execute(
            f"SELECT id, envelope_enc FROM retractions WHERE id IN ({marks})"  # noqa: S608
            " AND expires > ?",
            (*ids, now),
        ):
            found[row[0]] = self._crypto.open("retractions", "envelope", row[0], row[1])
        return found

    async def alert_states(self, ids: Sequence[bytes], now: int) -> dict[bytes, str]:
        """What became of each alert in ``ids``: 'active', 'retracted', 'superseded' or
        'expired' (its time ran out, or the node holds it no longer)."""
        states = dict.fromkeys(ids, "expired")
        if not ids:
            return states
        marks = ",".join("?" * len(ids))
        for row in await self._db.fetchall(
            f"SELECT id, state FROM alerts WHERE id IN ({marks}) AND expires > ?",  # noqa: S608
            (*ids, now),
        ):
            states[bytes(row[0])] = str(row[1])
        return states

    async def known_ids(self, ids: list[bytes]) -> set[bytes]:
        """Which of ``ids`` this node already has: alerts (any state) or retractions."""
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        rows = await self._db.quick(
            f"SELECT id FROM alerts WHERE id IN ({marks})"  # noqa: S608
            f" UNION SELECT id FROM retractions WHERE id IN ({marks})",
            (*ids, *ids),
            keys=len(ids),
        )
        return {r[0] for r in rows}

    async def indicator_key_ids(self, suites: Iterable[int], now: int) -> list[tuple[int, bytes]]:
        """(suite, key id) of each network key that indicators of unexpired alerts were
        blinded with, for the blinding suites ``suites`` only.

        A retracted alert's key stays listed until the alert would have expired: at
        worst one slow hash too many, never a missed match."""
        wanted = sorted(set(suites))
        marks = ",".join("?" * len(wanted))
        rows = await self._db.fetchall(
            f"SELECT suite, key_id FROM indicator_keys WHERE suite IN ({marks})"  # noqa: S608
            " AND expires > ? ORDER BY suite, key_id",
            (*wanted, now),
        )
        return [(int(r[0]), r[1]) for r in rows]

    async def find_by_indicator(self, kind: str, blinded: bytes, now: int) -> list[StoredAlert]:
        rows = await self._db.fetchall(
            "SELECT a.id, a.origin, a.hops, a.received_from, a.body_enc"
            " FROM indicators i JOIN alerts a ON a.id = i.alert_id"
            " WHERE i.tag = ? AND a.state = 'active' AND a.expires > ?",
            (self.indicator_tag(kind, blinded), now),
        )
        return [StoredAlert(r[0], r[1], r[2], r[3], self._open_alert(r[0], r[4])) for r in rows]

    async def list_active(
        self, now: int, *, limit: int = 100, offset: int = 0, region: str | None = None
    ) -> list[StoredAlert]:
        """Active alerts, newest first, optionally only those for ``region``."""
        where, params = "state = 'active' AND expires > ?", [now]
        if region is not None:
            where += " AND region_tag = ?"
            params.append(self.region_tag(region))  # type: ignore[arg-type]
        rows = await self._db.fetchall(
            f"SELECT id, origin, hops, received_from, body_enc FROM alerts WHERE {where}"  # noqa: S608
            " ORDER BY created DESC, stored_at DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [StoredAlert(r[0], r[1], r[2], r[3], self._open_alert(r[0], r[4])) for r in rows]

    async def purge_expired(self, now: int) -> dict[str, int]:
        """Delete expired alerts, tombstones and retractions."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "DELETE FROM log WHERE id IN (SELECT id FROM alerts WHERE expires <= ?)"
                " OR id IN (SELECT id FROM retractions WHERE expires <= ?)",
                (now, now),
            )
            cur = await conn.execute("DELETE FROM alerts WHERE expires <= ?", (now,))
            alerts = cur.rowcount
            cur = await conn.execute("DELETE FROM retractions WHERE expires <= ?", (now,))
            retractions = cur.rowcount
            cur = await conn.execute("DELETE FROM markers WHERE expires <= ?", (now,))
            markers = cur.rowcount
            await conn.execute("DELETE FROM indicator_keys WHERE expires <= ?", (now,))
        if alerts:
            self.removals += 1
            self.changes += 1
        if alerts or retractions or markers:
            await self._db.checkpoint()
        return {"alerts": alerts, "retractions": retractions, "markers": markers}

    async def purge_origin(self, origin: bytes) -> int:
        """Delete everything ``origin`` originated (peer removal with purge)."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM log WHERE id IN (SELECT id FROM alerts WHERE origin = ?)"
                " OR id IN (SELECT id FROM retractions WHERE origin = ?)",
                (origin, origin),
            )
            cur = await conn.execute("DELETE FROM alerts WHERE origin = ?", (origin,))
            count = cur.rowcount
            await conn.execute("DELETE FROM retractions WHERE origin = ?", (origin,))
            await conn.execute("DELETE FROM markers WHERE origin = ?", (origin,))
        self.removals += 1
        self.changes += 1
        await self._db.checkpoint()
        return count

    async def purge_warnings(self) -> int:
        """Delete every area warning held (protocol.md section 5b: a node with
        ``area_warnings`` off holds none), this node's own included, with its log
        position (a bodies request for it is then ``gone``, section 10). No tombstone:
        while the setting is off, ingest refuses a late copy (``warnings_off``), as the
        block list keeps a purged origin out. A retraction of a warning stays (it does
        not say what it retracts). Returns how many went."""
        # Found by their facet, from an index: nothing is opened (it runs with every
        # retention pass while warnings are off). Looked for again inside the
        # transaction, so that no alert changed meanwhile is deleted.
        find = "SELECT alert_id FROM alert_facets WHERE tag = ?"
        tag = (warning_tag(self._crypto),)
        if not await self._db.fetchone(find, tag):
            return 0
        async with self._db.transaction() as conn:
            ids = [(r[0],) for r in await conn.execute_fetchall(find, tag)]
            await conn.executemany("DELETE FROM log WHERE id = ?", ids)
            await conn.executemany("DELETE FROM alerts WHERE id = ?", ids)
        self.removals += 1
        self.changes += 1
        await self._db.checkpoint()
        return len(ids)

    async def counts(self, now: int) -> dict[str, int]:
        row = await self._db.fetchone(
            "SELECT"
            # Active = unexpired less unexpired inactive, each read from an index
            # (alerts_expires, and the partial alerts_inactive).
            " (SELECT COUNT(*) FROM alerts WHERE expires > ?)"
            " - (SELECT COUNT(*) FROM alerts WHERE state <> 'active' AND expires > ?),"
            " (SELECT COUNT(*) FROM retractions WHERE expires > ?),"
            " (SELECT COALESCE(MAX(pos), 0) FROM log),"
            " (SELECT COUNT(*) FROM markers WHERE expires > ?)",
            (now, now, now, now),
        )
        assert row is not None
        return {
            "alerts": row[0], "retractions": row[1], "log_position": row[2], "markers": row[3],
        }  # fmt: skip
