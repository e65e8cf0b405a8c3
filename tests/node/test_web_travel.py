"""Travelling members (issue 14, item 8): a member of one node browses, checks and
subscribes for a region only a peer publishes for, and finds its alert.

Two real in-process nodes on loopback (tests/federation/nodes.py), the web app of
the first served in process (tests/node/test_web_support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from yarl import URL

from node.app import Node
from node.store.regions import RegionIndex
from node.web import web_app
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually, has_alert, pair
from tests.node.test_web_support import Site

PHONE = "+33 6 12 34 56 78"


@pytest.fixture(name="two")
async def two_fixture(make_node: NodeFactory) -> AsyncIterator[tuple[Site, Node]]:
    """Node A (regions GB-LND, GB-MAN) with its web app, and node B, its peer."""
    a = await make_node("A")
    b = await make_node("B", region="FR-75")
    a.unlocked().settings.set("regions", ["GB-LND", "GB-MAN"])
    await pair(a, b)
    server = TestServer(web_app(a))
    await server.start_server()
    site = Site(a, server)
    try:
        yield site, b
    finally:
        await site.close()


async def test_a_member_browses_checks_and_subscribes_for_a_region_only_a_peer_publishes_for(
    two: tuple[Site, Node],
) -> None:
    site, b = two
    text = "Paris: took the money back by force."
    alert_id = await b.unlocked().alerts.publish(
        draft(1, region="FR-75", phone=PHONE, description=text)
    )
    await eventually(lambda: has_alert(site.node, alert_id))
    member = await site.member("alice")

    _, html, _ = await member.get("/alerts")
    assert "Regions in alerts from other organisations" in html
    assert 'name="region" value="FR-75"' in html
    # Filters go by POST and are kept in the session (no choice in a URL).
    assert (await member.post("/alerts", {"region": "FR-75"}, page="/alerts"))[0] == 303
    status, html, _ = await member.get("/alerts")
    assert status == 200, html
    assert text in html
    # Her own node's regions hold no such alert.
    assert (await member.post("/alerts", {"region": "GB-LND"}, page="/alerts"))[0] == 303
    status, html, _ = await member.get("/alerts")
    assert status == 200 and text not in html

    status, html, _ = await member.post("/check", {"kind": "phone", "value": PHONE}, page="/check")
    assert status == 200 and text in html

    status, html, _ = await member.post("/feed", {"region": "FR-75", "lang": "en"}, page="/feed")
    assert status == 200, html
    url = html.split('id="feed-url" class="wide" value="', 1)[1].split('"', 1)[0]
    status, atom, _ = await member.get(URL(url).path)
    assert status == 200 and text in atom


async def test_the_region_list_grows_with_regions_not_alerts(make_node: NodeFactory) -> None:
    node = await make_node()
    service = node.unlocked().alerts
    for n, region in enumerate(["FR-75", "FR-75", "BE", "GB", "FR-75"]):
        await service.publish(draft(n, region=region))
    index: RegionIndex = node.unlocked().store.regions
    assert await index.active(node.clock.now()) == ["BE", "FR-75", "GB"]
    assert len(await index.active(node.clock.now(), limit=2)) == 2
    # A retracted alert's region goes with it.
    [be] = [a for a in await service.list() if a["region"] == "BE"]
    await service.retract(bytes.fromhex(be["id"]), "mistaken")
    assert await index.active(node.clock.now()) == ["FR-75", "GB"]
