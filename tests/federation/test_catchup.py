"""A node that was away catches up, fetching each missing body exactly once."""

from __future__ import annotations

from tests.conftest import NodeFactory
from tests.federation.nodes import count_bodies, draft, eventually, has_alert, pair

MISSED = 500


async def test_stopped_node_catches_up_with_each_body_once(make_node: NodeFactory) -> None:
    a = await make_node("A")
    b = await make_node("B")
    await pair(a, b)
    first = await a.unlocked().alerts.publish(draft(0))
    await eventually(lambda: has_alert(b, first))

    data_b = b.data_dir
    # B stops pulling from A before it goes away, so that on its return nothing moves
    # until the test is watching.
    await b.unlocked().trust.set_peer("A", suspended=True)
    await b.stop()
    service = a.unlocked().alerts
    ids = [await service.publish(draft(i, hops=1)) for i in range(1, MISSED + 1)]
    store_a = a.unlocked().store
    envelopes = await store_a.alerts.get_envelopes(ids, a.clock.now())
    alert_bytes = sum(len(e) for e in envelopes.values())

    from node import config as config_mod
    from node.app import Node

    b2 = Node(data_b, config_mod.load(data_b))
    await b2.start(None)
    try:
        seen = count_bodies([b2])
        transport = b2.unlocked().trust.transport
        assert transport.bytes_received == 0
        await b2.unlocked().trust.set_peer("A", suspended=False)
        await eventually(lambda: has_alert(b2, ids[-1]))
        for alert_id in (ids[0], first):
            assert await has_alert(b2, alert_id)
        assert (await b2.unlocked().store.alerts.counts(b2.clock.now()))["alerts"] == MISSED + 1
        assert len(seen) == MISSED and max(seen.values()) == 1
        overhead = (transport.bytes_received + transport.bytes_sent - alert_bytes) / MISSED
        # Figure for the closing note: bytes per alert beyond the alerts' own size,
        # counting request and response bodies and the signed request header.
        print(
            f"catch-up: {MISSED} alerts, {overhead:.1f} bytes/alert overhead, "
            f"{transport.round_trips} round trips"
        )
        assert overhead < 60
        # A second sync transfers no bodies.
        before = transport.bytes_received
        again = await b2.unlocked().trust.sync_now()
        assert sum(r["bodies"] for r in again) == 0
        idle = transport.bytes_received - before
        print(f"idle sync: {idle} response bytes, {transport.round_trips} round trips total")
    finally:
        await b2.stop()


async def test_epoch_change_resyncs_by_id_diff(make_node: NodeFactory) -> None:
    a = await make_node("A")
    b = await make_node("B")
    await pair(a, b)
    ids = [await a.unlocked().alerts.publish(draft(i)) for i in range(5)]
    await eventually(lambda: has_alert(b, ids[-1]))
    # A's log is reset (as after a restore): a new epoch, new positions.
    await a.unlocked().store.alerts.new_epoch()
    extra = await a.unlocked().alerts.publish(draft(99))
    seen = count_bodies([b])
    results = await b.unlocked().trust.sync_now()
    assert [r["error"] for r in results] == [None]
    assert await has_alert(b, extra)
    # Only the one new body crossed; the five known ones were not downloaded again.
    assert sum(seen.values()) == 1
