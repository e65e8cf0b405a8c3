"""Pages decode each shown alert once while it stays cached (node/display.py), the
cache is bounded in rows and bytes, and it forgets every alert when the store deletes
any alert's content; the travelling members' region list is reused until an alert
is stored or removed (node/store/regions.py)."""

from __future__ import annotations

from node.display import DisplayCache, alert_fields
from node.store.regions import REGION_LIST_TTL_S
from tests.conftest import NodeFactory
from tests.federation.nodes import draft


async def test_a_second_page_decodes_nothing_and_a_retraction_empties_the_cache(
    make_node: NodeFactory,
) -> None:
    node = await make_node()
    service = node.unlocked().alerts
    ids = [await service.publish(draft(n, region="GB")) for n in range(3)]
    first, _ = await service.browse()
    cache: DisplayCache = service._display  # what the page decoded
    assert (cache.hits, cache.misses, len(cache)) == (0, 3, 3)
    again, _ = await service.browse()
    assert again == first
    assert (cache.hits, cache.misses) == (3, 3)
    # Same shape as before the cache: the JSON keys are a contract.
    assert list(first[0]) == ["id", "origin", "organisation", "origin_known", *alert_fields(
        (await node.unlocked().store.alerts.get_alert(ids[-1], node.clock.now())).envelope  # type: ignore[union-attr]
    )]  # fmt: skip

    await service.retract(ids[0], "mistaken")
    shown, _ = await service.browse()
    assert {a["id"] for a in shown} == {i.hex() for i in ids[1:]}
    assert len(cache) == 2 and cache.misses == 5


def test_the_cache_keeps_at_most_its_rows_and_bytes() -> None:
    from tests.node.test_store import KEY_A, alert

    alerts = [alert(KEY_A, text=f"alert {n}") for n in range(5)]
    envelopes = [(a.id, a.envelope.to_bytes()) for a in alerts]
    by_rows = DisplayCache(max_rows=2, max_bytes=1 << 20)
    for alert_id, envelope in envelopes:
        by_rows.fields(alert_id, lambda e=envelope: e, 0)
    assert len(by_rows) == 2
    by_bytes = DisplayCache(max_rows=100, max_bytes=len(envelopes[0][1]) * 3)
    for alert_id, envelope in envelopes:
        by_bytes.fields(alert_id, lambda e=envelope: e, 0)
    assert len(by_bytes) == 3
    alert_id, envelope = envelopes[-1]
    by_bytes.fields(alert_id, lambda: envelope, 1)  # the store removed something
    assert len(by_bytes) == 1
    # A kept alert is not opened again.
    opened: list[bytes] = []
    by_bytes.fields(alert_id, lambda: opened.append(envelope) or envelope, 1)
    assert opened == []


async def test_the_region_list_is_reused_until_an_alert_is_stored_or_removed(
    make_node: NodeFactory,
) -> None:
    node = await make_node()
    service, index = node.unlocked().alerts, node.unlocked().store.regions
    now = node.clock.now()
    first = await service.publish(draft(0, region="FR-75"))
    assert await index.active(now) == ["FR-75"]
    await service.publish(draft(1, region="BE"))
    assert await index.active(now) == ["BE", "FR-75"]
    await service.retract(first, "mistaken")
    assert await index.active(now) == ["BE"]
    assert await index.active(now + REGION_LIST_TTL_S) == ["BE"]  # built again: same list


async def test_writing_the_check_counts_keeps_the_decoded_alerts(make_node: NodeFactory) -> None:
    # Regression: the cache was made afresh each time the counted checks were written
    # (every 32 checks, each retention run), so under checks every page decoded again.
    node = await make_node()
    service = node.unlocked().alerts
    for n in range(3):
        await service.publish(draft(n, region="GB"))
    await service.browse()
    await service.flush_counts()
    await service.browse()
    cache: DisplayCache = service._display
    assert (cache.hits, cache.misses) == (3, 3)


async def test_twenty_pages_at_once_decode_each_alert_once(make_node: NodeFactory) -> None:
    # Decoding runs on the event loop without an await (DisplayCache.fields), so
    # pages that ask at once share it: the first page to get its rows decodes, the
    # others find the fields kept. No in-progress map is needed while that holds.
    import asyncio

    node = await make_node()
    service = node.unlocked().alerts
    for n in range(3):
        await service.publish(draft(n, region="GB"))
    pages = await asyncio.gather(*(service.browse() for _ in range(20)))
    assert all(page == pages[0] for page in pages)
    cache: DisplayCache = service._display
    assert (cache.hits, cache.misses) == (57, 3)
