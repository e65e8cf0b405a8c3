"""Federation between real in-process nodes: HTTPS on loopback, real SQLite files."""

from __future__ import annotations

import random
import time

from node.app import Node
from protocol.alert import verify_alert
from tests.conftest import NodeFactory
from tests.federation.nodes import count_bodies, draft, eventually, has_alert, pair


async def caught_up(node: Node, peer_name: str) -> bool:
    """``node`` has read ``peer_name``'s whole feed, without a sync error."""
    peers = {p["name"]: p for p in await node.unlocked().trust.list_peers()}
    return peers[peer_name]["lag"] == 0 and not peers[peer_name]["last_error"]


async def chain(make_node: NodeFactory) -> tuple[Node, Node, Node]:
    a, b, c = [await make_node(name) for name in ("A", "B", "C")]
    await pair(a, b)
    await pair(b, c)
    return a, b, c


async def test_hops_limit_along_a_chain(make_node: NodeFactory) -> None:
    a, b, c = await chain(make_node)
    far = await a.unlocked().alerts.publish(draft(1, hops=2, phone="07700 900123"))
    near = await a.unlocked().alerts.publish(draft(2, hops=1))
    local = await a.unlocked().alerts.publish(draft(3, hops=0))
    red = await a.unlocked().alerts.publish(draft(4, hops=2, tlp="RED"))
    await eventually(lambda: has_alert(c, far))
    # Each publish is a poke of its own, fetched by id: ``far`` can pass B on to C
    # before B has fetched ``near``.
    await eventually(lambda: has_alert(b, near))
    # Give a late relay every chance before asserting absence.
    await b.unlocked().trust.sync_now()
    await c.unlocked().trust.sync_now()
    assert not await has_alert(c, near)
    assert not await has_alert(b, local) and not await has_alert(b, red)
    result = await c.unlocked().alerts.check("phone", "+44 7700 900123")
    # A is no peer of C: its alert counts as relayed from an organisation C cannot name.
    assert (result["matches"], result["organisations"], result["max_danger"]) == (1, 0, 3)
    assert result["unknown_organisation_alerts"] == 1
    assert result["alerts"][0]["organisation"] == "another organisation"
    assert not result["alerts"][0]["origin_known"]
    result = await b.unlocked().alerts.check("phone", "+44 7700 900123")
    assert result["alerts"][0]["organisation"] == "A"


async def test_retraction_travels_and_no_resurrection(make_node: NodeFactory) -> None:
    a, b, c = await chain(make_node)
    service = a.unlocked().alerts
    alert_id = await service.publish(draft(1, hops=2))
    await eventually(lambda: has_alert(c, alert_id))
    stored = await c.unlocked().store.alerts.get_alert(alert_id, c.clock.now())
    assert stored is not None
    late_copy = stored.envelope
    await service.retract(alert_id, "mistaken")

    async def gone() -> bool:
        return not await has_alert(b, alert_id) and not await has_alert(c, alert_id)

    await eventually(gone)
    # A late copy of the alert, offered again after the retraction, does not come back.
    store_c = c.unlocked().store
    again = verify_alert(late_copy, c.clock.now())
    assert not await store_c.alerts.put_alert(again, hops=2, received_from=None, now=c.clock.now())
    await b.unlocked().trust.sync_now()
    await c.unlocked().trust.sync_now()
    assert not await has_alert(c, alert_id)
    assert (await store_c.alerts.counts(c.clock.now()))["retractions"] == 1


async def test_superseding_alert_replaces_everywhere(make_node: NodeFactory) -> None:
    a, b, c = await chain(make_node)
    service = a.unlocked().alerts
    old = await service.publish(draft(1, hops=2))
    await eventually(lambda: has_alert(c, old))
    new = await service.publish(draft(2, hops=2, supersedes=old))
    await eventually(lambda: has_alert(c, new))
    assert not await has_alert(b, old) and not await has_alert(c, old)


async def test_suspended_and_removed_peers(make_node: NodeFactory) -> None:
    a, b, _ = await chain(make_node)
    pa = a.unlocked().trust
    await pa.set_peer(b.config.key, suspended=True)
    hidden = await a.unlocked().alerts.publish(draft(1))
    results = await b.unlocked().trust.sync_now()
    assert any(r["error_code"] == "suspended" and r["error"] for r in results)
    assert not await has_alert(b, hidden)
    peers = {p["key"]: p for p in await b.unlocked().trust.list_peers()}
    assert peers[a.config.key]["last_error"]["code"] == "suspended"
    await pa.set_peer(b.config.key, suspended=False)
    await eventually(lambda: has_alert(b, hidden))
    # B removes A with purge: everything A originated is gone from B.
    result = await b.unlocked().trust.remove_peer("A", purge=True)
    assert result["purged"] >= 1 and not await has_alert(b, hidden)
    assert await b.unlocked().store.peers.get(bytes.fromhex(a.config.key)) is None


async def test_accept_direct_refuses_relayed_alerts(make_node: NodeFactory) -> None:
    a, b, c = await chain(make_node)
    await c.unlocked().trust.set_peer("B", accept="direct")
    relayed = await a.unlocked().alerts.publish(draft(1, hops=3))
    own = await b.unlocked().alerts.publish(draft(2, hops=1))
    await eventually(lambda: has_alert(c, own))
    await eventually(lambda: has_alert(b, relayed))
    await c.unlocked().trust.sync_now()
    assert await caught_up(c, "B")
    assert not await has_alert(c, relayed)


async def test_ten_node_random_graph_converges_once_per_edge(make_node: NodeFactory) -> None:
    rng = random.Random(7)
    nodes = [await make_node(f"N{i}") for i in range(10)]
    edges: set[tuple[int, int]] = set()
    for i in range(1, 10):  # a random spanning tree keeps the graph connected ...
        edges.add((rng.randrange(i), i))
    while len(edges) < 20:  # ... plus random edges up to average degree 4
        x, y = sorted(rng.sample(range(10), 2))
        edges.add((x, y))
    for x, y in edges:
        await pair(nodes[x], nodes[y])
    seen = count_bodies(nodes)
    started = time.perf_counter()
    ids = [await nodes[i].unlocked().alerts.publish(draft(i, hops=6)) for i in (0, 3, 7)]

    async def converged() -> bool:
        for node in nodes:
            for alert_id in ids:
                if not await has_alert(node, alert_id):
                    return False
        return True

    await eventually(converged, timeout=30)
    # A figure for the closing note, not an assertion (tests never assert a time).
    print(f"ten-node graph: 3 alerts at all 10 nodes in {time.perf_counter() - started:.3f} s")
    assert seen and max(seen.values()) == 1, "an alert body crossed the same edge twice"


async def test_a_published_alert_is_fetched_by_the_id_its_poke_names(
    make_node: NodeFactory,
) -> None:
    """The node's own publish pokes its peers naming the alert (AlertService through
    Trust to the syncer), so a peer's pull fetches it by id, reading no feed page."""
    a, b = await make_node("A"), await make_node("B")
    await pair(a, b)
    await eventually(lambda: caught_up(b, "A"))
    syncer = b.unlocked().trust.syncer

    async def quiet() -> bool:
        # Both ways' network keys handed over (each wakes a whole pull) and no pull
        # under way or due.
        return not (
            syncer._keys_due
            or any(e.is_set() for e in syncer._wake.values())
            or any(lock.locked() for lock in syncer._locks.values())
        )

    await eventually(quiet)
    pulls: list[tuple[object, int, int]] = []
    pull = syncer.pull

    async def recorded(peer: object, news: object = None) -> object:
        result = await pull(peer, news)  # type: ignore[arg-type]
        pulls.append((news, result.stored, result.pages))
        return result

    syncer.pull = recorded  # type: ignore[method-assign]
    alert_id = await a.unlocked().alerts.publish(draft(1))
    await eventually(lambda: has_alert(b, alert_id))
    stored = [(news, pages) for news, n, pages in pulls if n]
    assert len(stored) == 1
    news, pages = stored[0]
    assert [e.id for e in news] == [alert_id] and pages == 0  # type: ignore[attr-defined]
