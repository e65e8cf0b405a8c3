"""Five nodes, links cut and healed, alerts and retractions on both sides: after
healing every node holds exactly what it is entitled to, and nothing retracted
comes back."""

from __future__ import annotations

import itertools
import urllib.parse
from collections.abc import AsyncIterator

import pytest

from node.app import Node
from tests.conftest import NodeFactory
from tests.federation.linkproxy import LinkProxy
from tests.federation.nodes import draft, eventually, has_alert

EDGES = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (0, 2)]
CUT = [(2, 3), (4, 0)]  # splits {0, 1, 2} from {3, 4}


def distances(start: int) -> dict[int, int]:
    adjacent = {n: set() for n in range(5)}  # type: ignore[var-annotated]
    for x, y in EDGES:
        adjacent[x].add(y)
        adjacent[y].add(x)
    seen, frontier, hops = {start: 0}, [start], 0
    while frontier:
        hops += 1
        frontier = [m for n in frontier for m in adjacent[n] if m not in seen]
        for m in frontier:
            seen.setdefault(m, hops)
    return seen


@pytest.fixture
async def network(make_node: NodeFactory) -> AsyncIterator[tuple[list[Node], dict]]:  # type: ignore[type-arg]
    nodes = [await make_node(f"N{i}") for i in range(5)]
    links: dict[tuple[int, int], LinkProxy] = {}
    for x, y in EDGES:
        for src, dst in ((x, y), (y, x)):
            # src reaches dst through its own proxy, so a cut is a real broken link.
            port = urllib.parse.urlsplit(nodes[dst].unlocked().trust.url).port
            proxy = LinkProxy(port)  # type: ignore[arg-type]
            await proxy.start()
            links[(src, dst)] = proxy
            card = nodes[dst].unlocked().trust.card()
            info = await nodes[src].unlocked().trust.add_peer(card, "relay", True, None)
            store = nodes[src].unlocked().store.peers
            peer = await store.get(bytes.fromhex(info["key"]))
            assert peer is not None
            await store.add(
                peer.key, peer.name, (f"https://127.0.0.1:{proxy.port}",), peer.pins,
                accept="relay", share=True, proxy=None, now=nodes[src].clock.now(),
            )  # fmt: skip
    yield nodes, links
    for proxy in links.values():
        await proxy.stop()


async def test_partition_and_heal_converge_exactly(network: tuple[list[Node], dict]) -> None:  # type: ignore[type-arg]
    nodes, links = network
    before = await nodes[0].unlocked().alerts.publish(draft(0, hops=6))
    doomed = await nodes[3].unlocked().alerts.publish(draft(1, hops=6))
    for node in nodes:
        await eventually(lambda node=node: has_alert(node, before))
        await eventually(lambda node=node: has_alert(node, doomed))

    for x, y in CUT:
        links[(x, y)].cut()
        links[(y, x)].cut()
    published: dict[bytes, tuple[int, int]] = {}  # id -> (origin node, max hops)
    for origin, hops in ((0, 6), (1, 1), (2, 2), (3, 6), (4, 1)):
        alert_id = await nodes[origin].unlocked().alerts.publish(draft(10 + origin, hops=hops))
        published[alert_id] = (origin, hops)
    # Retractions on both sides during the partition.
    await nodes[3].unlocked().alerts.retract(doomed, "mistaken")
    await nodes[0].unlocked().alerts.retract(before, "resolved")
    side_a = next(i for i, (o, h) in published.items() if (o, h) == (0, 6))
    await nodes[0].unlocked().alerts.retract(side_a, "duplicate")
    del published[side_a]
    for node in nodes:
        await node.unlocked().trust.sync_now()
    assert await has_alert(nodes[4], before), "the far side cannot have heard yet"
    assert not await has_alert(nodes[3], side_a)

    for x, y in CUT:
        links[(x, y)].heal()
        links[(y, x)].heal()
    entitled = {n: {i for i, (o, h) in published.items() if distances(o)[n] <= h} for n in range(5)}

    async def converged() -> bool:
        for _ in range(2):
            for node in nodes:
                await node.unlocked().trust.sync_now()
        for n, node in enumerate(nodes):
            store = node.unlocked().store
            have = {bytes.fromhex(a["id"]) for a in await node.unlocked().alerts.list(limit=-1)}
            if have != entitled[n]:
                return False
            for gone in (before, doomed, side_a):
                if await store.alerts.get_alert(gone, node.clock.now()) is not None:
                    return False
        return True

    await eventually(converged, timeout=30)
    assert all(entitled[n] for n in range(5))
    assert any(len(a) != len(b) for a, b in itertools.combinations(entitled.values(), 2))
