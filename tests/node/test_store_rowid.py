"""Migration 17: the alerts table gets a rowid (new rows go at its end) and keeps
every row, every index and every foreign key that points at it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from node.store import Store, db
from node.store.schema import MIGRATIONS
from tests.node.test_store import KEY_B, NOW, alert, retraction

PEER = b"\x01" * 32
KEY = b"\x03" * 32


async def schema_of(store: Store) -> list[tuple[str, str, str | None]]:
    """The alerts table's indexes, and every table that refers to it, as stored."""
    rows = await store.db.fetchall(
        "SELECT type, name, sql FROM sqlite_master"
        " WHERE (tbl_name = 'alerts' AND type = 'index') OR sql LIKE '%REFERENCES alerts%'"
        " ORDER BY name"
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def links_of(store: Store) -> list[tuple[object, ...]]:
    """Every indicator and facet row, as (kind, tag, alert id), in one order."""
    rows = await store.db.fetchall(
        "SELECT 'i', tag, alert_id FROM indicators"
        " UNION ALL SELECT 'f', tag, alert_id FROM alert_facets ORDER BY 1, 2, 3"
    )
    return [tuple(r) for r in rows]


async def test_an_old_store_gets_a_rowid_alerts_table_and_keeps_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, gone, other = alert(text="kept"), alert(text="retracted"), alert(KEY_B, text="b")
    (tmp_path / "old").mkdir()
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS[:16])
    old = await Store.open(tmp_path / "old", KEY)
    try:
        assert await old.alerts.put_batch([(a, 1, PEER) for a in (kept, gone, other)], NOW)
        assert await old.alerts.put_retraction(
            retraction(gone.id), hops=1, received_from=PEER, now=NOW
        )
        with pytest.raises(sqlite3.OperationalError, match="rowid"):
            await old.db.fetchall("SELECT rowid FROM alerts")
        shape = await schema_of(old)
        before = [tuple(r) for r in await old.db.fetchall("SELECT * FROM alerts ORDER BY id")]
        links = await links_of(old)
    finally:
        await old.close()
    assert len(before) == 3 and links and len(shape) == 8

    # Up to migration 17 only: 18 rebuilds the facets (test_store_facet_triggers.py).
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS[:17])
    store = await Store.open(tmp_path / "old", KEY)
    try:
        assert (await store.db.fetchone("PRAGMA user_version"))[0] == 17  # type: ignore[index]
        assert len(await store.db.fetchall("SELECT rowid FROM alerts")) == 3
        assert [tuple(r) for r in await store.db.fetchall("SELECT * FROM alerts ORDER BY id")] == (
            before
        )
        assert await links_of(store) == links
        # The same indexes and references as before, and the id's own index; the
        # newest-first indexes name the id after the time (a page's order), which the
        # table's key gave them before.
        named_id = {
            "alerts_created": "CREATE INDEX alerts_created ON alerts (created, id)",
            "alerts_region": "CREATE INDEX alerts_region ON alerts (region_tag, created, id)",
        }
        expected = [(kind, name, named_id.get(name, sql)) for kind, name, sql in shape]
        assert await schema_of(store) == sorted(
            [*expected, ("index", "sqlite_autoindex_alerts_1", None)], key=lambda r: r[1]
        )
        assert await store.db.integrity_ok()
        assert await store.db.fetchall("PRAGMA foreign_key_check") == []

        # It reads and refuses as before: the retracted alert stays out.
        assert {a.id for a in await store.alerts.list_active(NOW)} == {kept.id, other.id}
        assert {a.id for a in await store.alerts.find_by_indicator(
            "phone", b"\x07" * 32, NOW
        )} == {kept.id, other.id}  # fmt: skip
        assert not await store.alerts.put_alert(gone, hops=1, received_from=PEER, now=NOW)
        # A new alert's row goes at the table's end.
        newer = alert(text="stored after")
        assert await store.alerts.put_alert(newer, hops=1, received_from=PEER, now=NOW)
        last = await store.db.fetchone("SELECT id FROM alerts ORDER BY rowid DESC LIMIT 1")
        assert last is not None and bytes(last[0]) == newer.id

        # The foreign keys still act: an alert deleted takes its indicators and facets.
        async with store.db.transaction() as conn:
            await conn.execute("DELETE FROM alerts WHERE id = ?", (kept.id,))
        for table in ("indicators", "alert_facets"):
            rows = await store.db.fetchall(
                f"SELECT 1 FROM {table} WHERE alert_id = ?",  # noqa: S608
                (kept.id,),
            )
            assert rows == [], table
    finally:
        await store.close()
