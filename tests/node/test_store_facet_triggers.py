"""Migration 18: an alert's facet rows go by their own key when it goes (triggers),
with no index on alert_id and no foreign key; no facet row outlives its alert."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.store import Store, db
from node.store.pages import category_tag
from node.store.schema import MIGRATIONS
from protocol.fields import CATEGORIES
from tests.node.test_store import KEY_A, KEY_B, NOW, alert, retraction
from tests.node.test_store_pages import varied

KEY = b"\x03" * 32
# Facet rows of alerts that are gone or no longer active: must always be none.
ORPHANS = (
    "SELECT count(*) FROM alert_facets f LEFT JOIN alerts a ON a.id = f.alert_id"
    " WHERE a.id IS NULL OR a.state <> 'active'"
)


async def facets_of(store: Store) -> list[tuple[bytes, int, bytes]]:
    rows = await store.db.fetchall(
        "SELECT tag, created, alert_id FROM alert_facets ORDER BY 1, 2, 3"
    )
    return [(bytes(r[0]), int(r[1]), bytes(r[2])) for r in rows]


async def orphans(store: Store) -> int:
    row = await store.db.fetchone(ORPHANS)
    assert row is not None
    return int(row[0])


async def test_an_old_store_keeps_every_facet_of_its_active_alerts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alerts = [varied(n) for n in range(12)]
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS[:17])
    old = await Store.open(tmp_path, KEY)
    try:
        await old.alerts.put_batch([(a, 1, None) for a in alerts], NOW)
        before = await facets_of(old)
        index = await old.db.fetchall(
            "SELECT 1 FROM sqlite_master WHERE name = 'alert_facets_alert'"
        )
    finally:
        await old.close()
    assert index and len(before) >= 2 * len(alerts)

    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS)
    store = await Store.open(tmp_path, KEY)
    try:
        assert (await store.db.fetchone("PRAGMA user_version"))[0] == 18  # type: ignore[index]
        assert await facets_of(store) == before
        listed = {bytes(r[0]) for r in await store.db.fetchall("SELECT tag FROM facet_tags")}
        assert listed == {tag for tag, _, _ in before}
        shape = await store.db.fetchone(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'alert_facets'"
        )
        assert shape is not None and "REFERENCES" not in shape[0]
        assert not await store.db.fetchall(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND tbl_name = 'alert_facets'"
            " AND sql IS NOT NULL"
        )
        assert await store.db.integrity_ok()
        assert await store.db.fetchall("PRAGMA foreign_key_check") == []
        # The facets still go when their alert does.
        gone = alerts[4]
        assert await store.alerts.put_retraction(
            retraction(gone.id, KEY_B, expires=gone.body.expires),
            hops=1, received_from=None, now=NOW,
        )  # fmt: skip
        assert [f for f in await facets_of(store) if f[2] == gone.id] == []
        assert await orphans(store) == 0
    finally:
        await store.close()


async def test_every_way_an_alert_goes_takes_its_facets(store: Store) -> None:
    alerts = [varied(n) for n in range(20)]
    await store.alerts.put_batch([(a, 1, None) for a in alerts], NOW)
    held = {a.id for a in alerts}

    async def still_held() -> set[bytes]:
        return {f[2] for f in await facets_of(store)}

    assert await still_held() == held
    # Retracted by its origin: a tombstone, its facets gone.
    retracted = alerts[2]
    assert await store.alerts.put_retraction(
        retraction(retracted.id, KEY_B, expires=retracted.body.expires),
        hops=1, received_from=None, now=NOW,
    )  # fmt: skip
    held.discard(retracted.id)
    assert await still_held() == held and await orphans(store) == 0
    # Superseded by a newer version from its origin.
    old = alerts[1]
    newer = alert(KEY_A, text="newer version", supersedes=old.id, categories=(CATEGORIES[7],))
    assert await store.alerts.put_alert(newer, hops=1, received_from=None, now=NOW)
    held = (held - {old.id}) | {newer.id}
    assert await still_held() == held and await orphans(store) == 0
    # Deleted outright, whatever the statement.
    async with store.db.transaction() as conn:
        await conn.execute("DELETE FROM alerts WHERE id = ?", (alerts[5].id,))
    held.discard(alerts[5].id)
    assert await still_held() == held and await orphans(store) == 0
    # Every alert of an origin purged.
    await store.alerts.purge_origin(bytes(KEY_B.verify_key))
    held = {
        i for i in held if i not in {a.id for a in alerts if a.body.origin != newer.body.origin}
    }
    assert await still_held() == held and await orphans(store) == 0
    # Expired.
    await store.alerts.purge_expired(max(a.body.expires for a in [*alerts, newer]) + 1)
    assert await facets_of(store) == [] and await orphans(store) == 0


async def test_a_facet_tag_is_listed_when_it_is_first_written(store: Store) -> None:
    tag = category_tag(store.crypto, CATEGORIES[9])
    assert not await store.db.fetchall("SELECT 1 FROM facet_tags WHERE tag = ?", (tag,))
    first = alert(text="first of its category", categories=(CATEGORIES[9],))
    assert await store.alerts.put_alert(first, hops=1, received_from=None, now=NOW)
    assert await store.db.fetchall("SELECT 1 FROM facet_tags WHERE tag = ?", (tag,))
    # So its row goes with it.
    await store.alerts.purge_expired(first.body.expires + 1)
    assert await store.db.fetchall("SELECT 1 FROM alert_facets WHERE tag = ?", (tag,)) == []
