"""Pages of active alerts under a member's filters, answered from indexes.

Rule: a page costs the same at a million alerts as at a hundred. Each filter (region,
category, minimum danger) is answered by an index on a keyed tag: the region by
``alerts.region_tag``, a category or a danger level by a row of ``alert_facets``
(one per category an alert names and one for its danger level, each a keyed tag under
its own purpose, so no clear column shows an alert's region, category or danger).
Pages are newest first by (``created``, ``id``) and continue from a cursor (keyset,
never an offset); only the alerts a page shows are decrypted.
Schema migration 8 (``fill_facets``) builds the facets of alerts stored before it.
Since migration 18 nothing here deletes a facet row: triggers on ``alerts`` delete an
alert's facets, by their own key, when it is deleted or stops being active.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiosqlite

from protocol.alert import AlertBody, read_stored_alert
from protocol.fields import DANGER_LEVELS
from protocol.warning import WARNING_EXT

from ..keys.crypto import RowCrypto

if TYPE_CHECKING:  # db.py imports the migrations, which import this module
    from .db import Database

# Rows read per statement while migration 8 fills the facets of existing alerts.
FILL_BATCH_ROWS = 5_000

FACETS_SCHEMA = """
CREATE TABLE alert_facets (
    tag BLOB NOT NULL,
    created INTEGER NOT NULL,
    alert_id BLOB NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, created, alert_id)
) WITHOUT ROWID;
CREATE INDEX alert_facets_alert ON alert_facets (alert_id);
CREATE INDEX alerts_created ON alerts (created);
"""


def category_tag(crypto: RowCrypto, category: str) -> bytes:
    return crypto.tag("category", category.encode())


def danger_tag(crypto: RowCrypto, level: int) -> bytes:
    return crypto.tag("danger", str(level).encode())


def warning_tag(crypto: RowCrypto) -> bytes:
    """The facet every area warning has (protocol.md section 5b), so that a node with
    warnings off finds the ones it holds from an index, opening no alert."""
    return crypto.tag("kind", b"warning")


def is_warning(body: AlertBody) -> bool:
    return body.ext.get(WARNING_EXT) is not None


def facet_tags(
    crypto: RowCrypto, categories: Iterable[str], danger: int, *, warning: bool = False
) -> list[bytes]:
    """The facet tags of one alert: one per category, one for its danger level, and
    the warning facet for an area warning."""
    tags = [category_tag(crypto, c) for c in dict.fromkeys(categories)]
    tags.append(danger_tag(crypto, danger))
    if warning:
        tags.append(warning_tag(crypto))
    return tags


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    """Where the next (older) page starts: the last shown alert's (created, id)."""

    created: int
    id: bytes

    def to_text(self) -> str:
        return f"{self.created}.{self.id.hex()}"

    @classmethod
    def from_text(cls, text: str) -> Cursor | None:
        created, _, hex_id = text.partition(".")
        try:
            return cls(int(created), bytes.fromhex(hex_id)) if created.isdigit() else None
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class PageRow:
    id: bytes
    origin: bytes
    hops: int
    received_from: bytes | None
    created: int
    body_enc: bytes


# What makes two page reads the same read (``page_rows``).
PageKey = tuple[int, int, tuple[str, ...], str | None, int | None, Cursor | None, int, int]

_COLUMNS = "a.id, a.origin, a.hops, a.received_from, a.created, a.body_enc"


class AlertPages:
    """Mixed into ``AlertStore``: newest-first pages of active alerts under filters."""

    _db: Database
    _crypto: RowCrypto
    # The store's counts of stores and removals (AlertStore), and the page reads in
    # progress (``page_rows``).
    changes: int
    removals: int
    pages_in_flight: dict[PageKey, asyncio.Future[tuple[list[PageRow], Cursor | None]]]

    def facet_tags(self, categories: Iterable[str], danger: int) -> list[bytes]:
        return facet_tags(self._crypto, categories, danger)

    async def page_active(
        self,
        now: int,
        *,
        limit: int,
        regions: Sequence[str] = (),
        category: str | None = None,
        min_danger: int | None = None,
        before: Cursor | None = None,
    ) -> tuple[list[tuple[PageRow, bytes]], Cursor | None]:
        """``page_rows``, each row with its opened envelope."""
        rows, cursor = await self.page_rows(
            now,
            limit=limit,
            regions=regions,
            category=category,
            min_danger=min_danger,
            before=before,
        )
        return [(r, self.open_row(r)) for r in rows], cursor

    def open_row(self, row: PageRow) -> bytes:
        """The envelope sealed in ``row``."""
        return self._crypto.open("alerts", "body", row.id, row.body_enc)

    async def page_rows(
        self,
        now: int,
        *,
        limit: int,
        regions: Sequence[str] = (),
        category: str | None = None,
        min_danger: int | None = None,
        before: Cursor | None = None,
    ) -> tuple[list[PageRow], Cursor | None]:
        """Up to ``limit`` active alerts newest first, in any of ``regions`` (all if
        empty), naming ``category``, of ``min_danger`` or worse, older than ``before``.

        Returns the rows, still sealed (``open_row`` opens one: a caller that kept an
        alert's decoded fields opens nothing), and the cursor of the next page (None if
        this is the last). One indexed statement per region (or per danger level when
        no region or category drives), each stopping after ``limit`` + 1 rows.

        Pages asked for at once share one query: a caller whose page (same filters,
        cursor, limit and second) is being read already, with nothing stored or
        removed since that read began (the store's ``changes`` and ``removals``),
        waits for that read instead of queueing the same statements again.
        """
        key: PageKey = (
            now, limit, tuple(regions), category, min_danger, before,
            self.changes, self.removals,
        )  # fmt: skip
        shared = self.pages_in_flight.get(key)
        if shared is None:
            shared = asyncio.ensure_future(
                self._page_rows(now, limit, regions, category, min_danger, before)
            )
            self.pages_in_flight[key] = shared
            shared.add_done_callback(lambda _: self.pages_in_flight.pop(key, None))
        # shield: one member leaving does not cancel the read the others wait for.
        rows, cursor = await asyncio.shield(shared)
        return list(rows), cursor

    async def _page_rows(
        self,
        now: int,
        limit: int,
        regions: Sequence[str],
        category: str | None,
        min_danger: int | None,
        before: Cursor | None,
    ) -> tuple[list[PageRow], Cursor | None]:
        levels = [d for d in DANGER_LEVELS if min_danger is None or d >= min_danger]
        if len(levels) == len(DANGER_LEVELS):
            levels = []  # the lowest minimum filters nothing
        drivers: list[tuple[str, bytes | None]]
        if regions:
            drivers = [("region", self._crypto.tag("region", r.encode())) for r in regions]
        elif category is not None:
            drivers = [("facet", category_tag(self._crypto, category))]
        elif levels:
            drivers = [("facet", danger_tag(self._crypto, d)) for d in levels]
            levels = []  # the driver already is the danger filter
        else:
            drivers = [("all", None)]
        checks: list[list[bytes]] = []
        if category is not None and drivers[0][0] == "region":
            checks.append([category_tag(self._crypto, category)])
        if levels:
            checks.append([danger_tag(self._crypto, d) for d in levels])
        streams = [
            await self._driven(kind, tag, checks, now, limit + 1, before) for kind, tag in drivers
        ]
        merged = list(heapq.merge(*streams, key=lambda r: (r.created, r.id), reverse=True))[
            : limit + 1
        ]
        more = len(merged) > limit
        shown = merged[:limit]
        return shown, Cursor(shown[-1].created, shown[-1].id) if more and shown else None

    async def _driven(
        self,
        kind: str,
        tag: bytes | None,
        checks: list[list[bytes]],
        now: int,
        limit: int,
        before: Cursor | None,
    ) -> list[PageRow]:
        params: list[object] = []
        if kind == "facet":
            source = "alert_facets f CROSS JOIN alerts a ON a.id = f.alert_id"
            where, key = ["f.tag = ?"], "f"
            params.append(tag)
        elif kind == "region":
            source, where, key = "alerts a INDEXED BY alerts_region", ["a.region_tag = ?"], "a"
            params.append(tag)
        else:
            source, where, key = "alerts a INDEXED BY alerts_created", [], "a"
        order_id = "f.alert_id" if key == "f" else "a.id"
        if before is not None:
            where.append(f"{key}.created <= ? AND ({key}.created < ? OR {order_id} < ?)")
            params += [before.created, before.created, before.id]
        where.append("a.state = 'active' AND a.expires > ?")
        params.append(now)
        for tags in checks:
            marks = ",".join("?" * len(tags))
            where.append(
                "EXISTS (SELECT 1 FROM alert_facets g WHERE g.tag IN"  # noqa: S608
                f" ({marks}) AND g.created = a.created AND g.alert_id = a.id)"
            )
            params += tags
        params.append(limit)
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM {source} WHERE {' AND '.join(where)}"  # noqa: S608
            f" ORDER BY {key}.created DESC, {order_id} DESC LIMIT ?",
            tuple(params),
        )
        return [PageRow(*r) for r in rows]


async def fill_facets(conn: aiosqlite.Connection, crypto: RowCrypto) -> None:
    """Migration 8: the facets table and the newest-first index, filled for the
    active alerts already stored (each body opened once, in batches)."""
    # executescript would commit: the migration runs in one transaction.
    for statement in FACETS_SCHEMA.split(";"):
        if statement.strip():
            await conn.execute(statement)
    last = b""
    while True:
        rows = list(
            await conn.execute_fetchall(
                "SELECT id, created, body_enc FROM alerts WHERE id > ? AND state = 'active'"
                " AND body_enc IS NOT NULL ORDER BY id LIMIT ?",
                (last, FILL_BATCH_ROWS),
            )
        )
        if not rows:
            break
        facets = []
        for alert_id, created, sealed in rows:
            body = read_stored_alert(crypto.open("alerts", "body", alert_id, sealed))
            facets += [
                (tag, created, alert_id) for tag in facet_tags(crypto, body.categories, body.danger)
            ]
        await conn.executemany(
            "INSERT OR IGNORE INTO alert_facets (tag, created, alert_id) VALUES (?, ?, ?)", facets
        )
        last = rows[-1][0]


async def tag_warnings(conn: aiosqlite.Connection, crypto: RowCrypto) -> None:
    """Migration 16: the warning facet of the area warnings already stored. Every
    warning's categories are exactly ["other"] and it names no indicator (section 5b
    rule 4), so only the bodies of that shape are opened, once."""
    rows = await conn.execute_fetchall(
        "SELECT a.id, a.created, a.body_enc FROM alert_facets f"
        " CROSS JOIN alerts a ON a.id = f.alert_id"
        " WHERE f.tag = ? AND a.state = 'active' AND a.body_enc IS NOT NULL"
        " AND (SELECT COUNT(*) FROM alert_facets g WHERE g.alert_id = a.id) = 2"
        " AND NOT EXISTS (SELECT 1 FROM indicators i WHERE i.alert_id = a.id)",
        (category_tag(crypto, "other"),),
    )
    tag = warning_tag(crypto)
    facets = [
        (tag, created, alert_id)
        for alert_id, created, sealed in rows
        if is_warning(read_stored_alert(crypto.open("alerts", "body", alert_id, sealed)))
    ]
    await conn.executemany(
        "INSERT OR IGNORE INTO alert_facets (tag, created, alert_id) VALUES (?, ?, ?)", facets
    )
