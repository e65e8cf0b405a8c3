"""Pages of alerts under filters (node/store/pages.py): every filter read from an index
gives exactly what filtering all active alerts in Python gives, page after page; only
shown alerts are opened; migration 8 builds the facets of alerts stored before it."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.store import Store
from node.store.pages import Cursor, fill_facets
from protocol.alert import VerifiedAlert, read_stored_alert
from protocol.fields import CATEGORIES
from tests.node.test_store import KEY_A, KEY_B, NOW, alert, retraction

REGIONS = ("GB-LND", "GB-MAN", "FR-75")
HOUR = 3600


def varied(n: int) -> VerifiedAlert:
    """Alert n: a region, one or two categories, a danger and an hour from n."""
    cats = (CATEGORIES[n % 5],) if n % 3 else (CATEGORIES[n % 5], CATEGORIES[5 + n % 4])
    return alert(  # type: ignore[no-any-return]
        KEY_A if n % 2 else KEY_B,
        text=f"alert {n}",
        region=REGIONS[n % 3],
        categories=cats,
        danger=1 + n % 3,
        created=NOW - NOW % HOUR - HOUR * (n % 7),
    )


def expected(
    alerts: list[VerifiedAlert], regions: tuple[str, ...], category: str | None, danger: int | None
) -> list[bytes]:
    """The old path: every alert, filtered in Python, newest first (created, id)."""
    kept = [
        a
        for a in alerts
        if (not regions or a.body.region in regions)
        and (category is None or category in a.body.categories)
        and (danger is None or a.body.danger >= danger)
    ]
    kept.sort(key=lambda a: (a.body.created, a.id), reverse=True)
    return [a.id for a in kept]


async def all_pages(
    store: Store,
    size: int,
    regions: tuple[str, ...],
    category: str | None,
    danger: int | None,
) -> list[bytes]:
    got: list[bytes] = []
    cursor: Cursor | None = None
    for _ in range(100):
        rows, cursor = await store.alerts.page_active(
            NOW, limit=size, regions=regions, category=category, min_danger=danger, before=cursor
        )
        assert len(rows) <= size
        for row, envelope in rows:
            assert read_stored_alert(envelope).origin == row.origin
        got += [r.id for r, _ in rows]
        if cursor is None:
            return got
        assert len(rows) == size  # a cursor only after a full page
    raise AssertionError("pages never ended")


async def fill(store: Store, count: int) -> list[VerifiedAlert]:
    alerts = [varied(n) for n in range(count)]
    await store.alerts.put_batch([(a, 1, None) for a in alerts], NOW)
    return alerts


FILTERS = list(
    itertools.product(
        [(), ("GB-LND",), ("GB-MAN", "FR-75")],
        [None, CATEGORIES[0], CATEGORIES[6]],
        [None, 1, 2, 3],
    )
)


async def test_every_filter_matches_the_python_filter_page_by_page(store: Store) -> None:
    alerts = await fill(store, 60)
    for regions, category, danger in FILTERS:
        want = expected(alerts, regions, category, danger)
        for size in (1, 4, 100):
            got = await all_pages(store, size, regions, category, danger)
            assert got == want, (regions, category, danger, size)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    count=st.integers(0, 25),
    regions=st.sets(st.sampled_from(REGIONS), max_size=3),
    category=st.none() | st.sampled_from(CATEGORIES[:9]),
    danger=st.none() | st.integers(1, 3),
    size=st.integers(1, 7),
)
async def test_pages_match_the_python_filter_for_any_filter(
    tmp_path_factory: pytest.TempPathFactory,
    count: int,
    regions: set[str],
    category: str | None,
    danger: int | None,
    size: int,
) -> None:
    store = await Store.open(tmp_path_factory.mktemp("pages"), b"\x01" * 32)
    try:
        alerts = await fill(store, count)
        want = expected(alerts, tuple(sorted(regions)), category, danger)
        assert await all_pages(store, size, tuple(sorted(regions)), category, danger) == want
    finally:
        await store.close()


async def test_retracted_and_expired_alerts_leave_every_filter(store: Store) -> None:
    alerts = await fill(store, 12)
    gone = alerts[3]
    assert await store.alerts.put_retraction(
        retraction(gone.id, KEY_A if 3 % 2 else KEY_B, expires=gone.body.expires),
        hops=1, received_from=None, now=NOW,
    )  # fmt: skip
    facets = await store.db.fetchall("SELECT 1 FROM alert_facets WHERE alert_id = ?", (gone.id,))
    assert facets == []
    kept = [a for a in alerts if a.id != gone.id]
    for regions, category, danger in FILTERS:
        assert await all_pages(store, 5, regions, category, danger) == expected(
            kept, regions, category, danger
        )
    later = max(a.body.expires for a in alerts)
    await store.alerts.purge_expired(later)
    assert await store.db.fetchall("SELECT 1 FROM alert_facets") == []


async def test_a_page_opens_only_the_alerts_it_shows(store: Store) -> None:
    await fill(store, 40)
    opened: list[bytes] = []
    crypto = store.alerts._crypto
    real_open = crypto.open

    class Counting:
        def __getattr__(self, name: str) -> object:
            return getattr(crypto, name)

        def open(self, table: str, column: str, row: bytes, sealed: bytes) -> bytes:
            opened.append(row)
            return real_open(table, column, row, sealed)

    store.alerts._crypto = Counting()  # type: ignore[assignment]
    rows, cursor = await store.alerts.page_active(NOW, limit=3, regions=REGIONS, min_danger=2)
    assert cursor is not None
    assert opened == [r.id for r, _ in rows]


async def test_the_migration_builds_facets_for_alerts_stored_before_it(store: Store) -> None:
    alerts = await fill(store, 30)
    async with store.db.transaction() as conn:
        # As a store made before migration 8 was: no facets table, no newest index.
        await conn.execute("DROP TABLE alert_facets")
        await conn.execute("DROP INDEX alerts_created")
    async with store.db.transaction() as conn:
        await fill_facets(conn, store.crypto)
    for regions, category, danger in FILTERS:
        assert await all_pages(store, 7, regions, category, danger) == expected(
            alerts, regions, category, danger
        )


async def test_no_clear_column_names_a_category_or_danger(store: Store) -> None:
    await fill(store, 10)
    for table in ("alerts", "alert_facets"):
        for row in await store.db.fetchall(f"SELECT * FROM {table}"):  # noqa: S608
            for value in row:
                if isinstance(value, bytes | str):
                    raw = value.encode() if isinstance(value, str) else value
                    assert not any(c.encode() in raw for c in CATEGORIES)


async def test_every_page_is_read_in_index_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page is ordered by (created, id) and many alerts share an hour: each query
    reads its rows in that order from an index, first page or after a cursor, and
    never sorts what it found (which, at a million alerts, is every alert of an hour)."""
    await fill(store, 20)
    asked: list[tuple[str, tuple[object, ...]]] = []
    real = store.db.fetchall

    async def recording(sql: str, params: tuple[object, ...] = ()) -> list[object]:
        asked.append((sql, tuple(params)))
        return await real(sql, params)  # type: ignore[return-value]

    monkeypatch.setattr(store.db, "fetchall", recording)
    for regions, category, danger in FILTERS:
        _, cursor = await store.alerts.page_active(
            NOW, limit=2, regions=regions, category=category, min_danger=danger
        )
        await store.alerts.page_active(
            NOW, limit=2, regions=regions, category=category, min_danger=danger, before=cursor
        )
    monkeypatch.undo()
    pages = [(sql, params) for sql, params in asked if "ORDER BY" in sql]
    assert len(pages) >= 2 * len(FILTERS)
    for sql, params in pages:
        plan = await store.db.fetchall("EXPLAIN QUERY PLAN " + sql, params)
        steps = " / ".join(str(row[3]) for row in plan)
        assert "TEMP B-TREE" not in steps, (sql, steps)
