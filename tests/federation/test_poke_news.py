"""A poke that names its news (issue 17, item 2): a relay's poke names what its pull
stored; a node that already holds all of it skips the pull the poke asks for, and one
that lacks some asks for those bodies by id, without reading the relay's feed.

Over 100 nodes each node is poked by about three peers for every alert; all but the
first of those pulls only confirmed what it held, a changes request each. On the
in-memory network with the fake clock and real SQLite stores."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from federation.errors import PeerRefused
from federation.inflight import IN_FLIGHT_WAIT_S
from federation.news import News
from federation.workers import MAX_NEWS_HELD
from node.service import Draft
from protocol import feed
from protocol.alert import verify_alert
from protocol.encoding import pack
from tests.federation.memnet import MemNet, MemNode, until


def requests(memnet: MemNet, source: MemNode, destination: MemNode, path: str) -> int:
    return sum(
        1
        for d in memnet.network.log
        if (d.source, d.destination) == (source.addr, destination.addr) and d.path.endswith(path)
    )


def named(node: MemNode) -> list[tuple[feed.IdEntry, ...] | None]:
    """Record what each poke ``node`` receives names."""
    seen: list[tuple[feed.IdEntry, ...] | None] = []
    wake = node.syncer.wake

    def recording(key: bytes, news: Any = None) -> None:
        seen.append(news)
        wake(key, news)

    node.syncer.wake = recording  # type: ignore[method-assign]
    return seen


async def diamond(memnet: MemNet) -> tuple[MemNode, MemNode, MemNode, MemNode]:
    """A publishes; B and C relay it to D."""
    a, b, c, d = [await memnet.node(n) for n in "abcd"]
    for x, y in ((a, b), (a, c), (b, d), (c, d)):
        await memnet.pair(x, y)
    await feeds_read(a, b, c, d)
    return a, b, c, d


async def feeds_read(*nodes: MemNode) -> None:
    """Every node has read each peer's feed once (a worker's first pull fails when it
    starts before the other side has added it; its retry waits on the fake clock)."""
    for node in nodes:
        for peer in await node.store.peers.list():
            node.syncer.wake(peer.key)

    async def read() -> bool:
        peers = [p for n in nodes for p in await n.store.peers.list()]
        return all(p.epoch is not None for p in peers)

    await until(read)


async def test_a_poke_naming_only_what_a_node_holds_spares_its_pull(livenet: MemNet) -> None:
    a, _b, c, d = await diamond(livenet)
    # C's copy comes late: D holds the alert (from B) and pokes C while C's own fetch
    # of the body from A is still in flight.
    late = asyncio.Event()

    async def hold_bodies(path: str) -> None:
        if path.endswith("/bodies"):
            await late.wait()

    livenet.network.link(c.addr, a.addr).before = hold_bodies
    pokes = named(c)
    alert_id = await a.publish("one alert, two relays", hops=4)
    await until(lambda: d.has(alert_id))

    async def poked_by_d() -> bool:
        # A's own poke came first; D's names the alert at the two hops D holds it by.
        return (feed.IdEntry("a", alert_id, 2),) in pokes

    await until(poked_by_d)
    # Whether C, having stored the alert, owes D a poke (checked as it decides).
    owes_d: list[bool] = []
    poke_all = c.syncer.poke_all

    def deciding(exclude: bytes | None = None, news: Any = None) -> None:
        poke_all(exclude, news)
        owes_d.append(c.syncer._poke_out[d.pub].is_set())

    c.syncer.poke_all = deciding  # type: ignore[method-assign]
    asked = {(x.name, y.name): requests(livenet, x, y, "/changes") for x, y in ((c, d), (d, c))}
    late.set()

    async def spared() -> bool:
        return c.syncer.pulls_spared == 1 and bool(owes_d)

    await until(spared)
    assert await c.has(alert_id)
    # D's poke named the alert at the hop count D holds it (two: by B).
    assert (feed.IdEntry("a", alert_id, 2),) in pokes
    # C waited for its own fetch, then held all D named: it did not ask D's feed.
    assert requests(livenet, c, d, "/changes") == asked["c", "d"]
    # D told C it holds the alert, at two hops: C (one hop) offers it nothing shorter,
    # so C does not poke D, and D asks C nothing.
    assert owes_d == [False]
    assert requests(livenet, c, d, "/poke") == 0
    assert requests(livenet, d, c, "/changes") == asked["d", "c"]
    assert requests(livenet, d, c, "/bodies") == 0


async def test_what_a_poke_names_and_a_node_lacks_is_fetched_by_id(livenet: MemNet) -> None:
    a, b, d = [await livenet.node(n) for n in "abd"]
    await livenet.pair(a, b)
    await livenet.pair(b, d)
    pokes = named(d)

    async def first_pull_done() -> bool:
        return (await d.peer(b)).epoch is not None

    await until(first_pull_done)
    read_feed = requests(livenet, d, b, "/changes")
    alert_id = await a.publish("relayed once")
    await until(lambda: d.has(alert_id))
    assert [feed.IdEntry("a", alert_id, 1)] in [list(n) for n in pokes if n]
    # D asked B for the body by id, without reading B's feed.
    assert requests(livenet, d, b, "/changes") == read_feed
    assert requests(livenet, d, b, "/bodies") == 1
    assert d.syncer.pulls_spared == 0
    # The cursor stays; the next whole pull lists the entry again and finds it held.
    assert (await d.peer(b)).cursor == 0
    again = await d.syncer.pull(await d.peer(b))
    assert (again.known, again.bodies, again.stored) == (1, 0, 0)
    assert (await d.peer(b)).cursor > 0


async def _epochs_read(memnet: MemNet, node: MemNode, *peers: MemNode) -> None:
    """``node`` reads each peer's (empty) feed once, as its worker does at start."""
    for peer in peers:
        assert (await node.pull(peer)).stored == 0


async def test_a_held_alert_offered_by_a_shorter_path_is_lowered_without_a_request(
    memnet: MemNet,
) -> None:
    """D holds A's alert by C (three hops); B's poke offers it at one hop from A."""
    a, b, c, d = [await memnet.node(n) for n in "abcd"]
    for x, y in ((a, b), (b, c), (c, d), (b, d)):
        await memnet.pair(x, y)
    await _epochs_read(memnet, d, b)
    alert_id = await a.publish("two ways round", hops=4)
    for node, source in ((b, a), (c, b), (d, c)):
        assert (await node.pull(source)).stored == 1
    now = memnet.clock.now()
    assert (await d.store.alerts.held_hops([alert_id], now))[alert_id].hops == 3
    before = len(memnet.network.log)
    offer = (feed.IdEntry("a", alert_id, 1),)
    result = await d.syncer.pull(await d.peer(b), offer)
    assert (result.lowered, result.known, result.bodies) == (1, 1, 0)
    assert (await d.store.alerts.held_hops([alert_id], now))[alert_id].hops == 2
    assert len(memnet.network.log) == before


async def test_a_named_body_another_pull_is_fetching_is_waited_for(memnet: MemNet) -> None:
    a, b, d = [await memnet.node(n) for n in "abd"]
    await memnet.pair(a, b)
    await memnet.pair(a, d)
    await memnet.pair(b, d)
    await _epochs_read(memnet, d, b)
    alert_id = await a.publish("in flight")
    assert (await b.pull(a)).stored == 1
    entry = feed.IdEntry("a", alert_id, 1)
    # D's pull from A has the body in flight when B's poke names it.
    mine, _ = d.syncer.in_flight.claim([entry])
    assert mine == [entry]
    asked = asyncio.ensure_future(d.syncer.pull(await d.peer(b), (entry,)))
    await until(lambda: _true(IN_FLIGHT_WAIT_S in memnet.clock.pending()))
    assert not asked.done()
    now = memnet.clock.now()
    stored = await a.store.alerts.get_alert(alert_id, now)
    assert stored is not None
    alert = verify_alert(stored.envelope, now)
    assert await d.store.alerts.put_alert(alert, hops=1, received_from=a.pub, now=now)
    before = len(memnet.network.log)
    d.syncer.in_flight.release([entry])
    result = await asked
    assert (result.known, result.bodies) == (1, 0)
    assert len(memnet.network.log) == before
    # Named and not held: asked for by id (B no longer has it: gone).
    other = feed.IdEntry("a", b"\x09" * 32, 1)
    result = await d.syncer.pull(await d.peer(b), (entry, other))
    assert (result.known, result.gone) == (1, 1)
    assert requests(memnet, d, b, "/bodies") == 1 and requests(memnet, d, b, "/changes") == 1


async def _true(value: bool) -> bool:
    return value


async def test_a_failed_poke_leaves_the_next_one_naming_nothing(livenet: MemNet) -> None:
    a, b, d = [await livenet.node(n) for n in "abd"]
    await livenet.pair(a, b)
    await livenet.pair(b, d)
    pokes = named(d)
    link = livenet.network.link(b.addr, d.addr)
    link.cut = True
    first = await a.publish("first")
    await until(lambda: b.has(first))

    async def poke_failed() -> bool:
        return _poke_news(b, d) is None

    await until(poke_failed)
    link.cut = False
    second = await a.publish("second")
    await until(lambda: d.has(second))
    await until(lambda: d.has(first))
    # D never heard of the first alert: the poke after the failed one names nothing,
    # and D pulls both.
    assert pokes and pokes[0] is None


def _poke_news(sender: MemNode, receiver: MemNode) -> object:
    held = sender.syncer._news_out.get(receiver.pub)
    return "nothing owed" if held is None else held.named()


def test_news_past_its_limit_or_unnamed_is_unknown() -> None:
    entries = [feed.IdEntry("a", bytes([n]) * 32, 1) for n in range(5)]
    news = News(feed.MAX_POKE_NEWS)
    news.add(entries[:2])
    news.add([feed.IdEntry("a", entries[0].id, 0)])  # lowered: replaces, keeps one
    assert news.named() == (entries[1], feed.IdEntry("a", entries[0].id, 0))
    news.add(entries[2:])
    assert news.named() is None  # five: more than a poke names
    news.add(entries[:1])
    assert news.named() is None  # unknown stays unknown
    unnamed = News(MAX_NEWS_HELD)
    unnamed.add(entries[:1])
    unnamed.add(None)
    assert unnamed.named() is None
    assert News(1).named() is None


async def test_a_poke_with_malformed_news_is_refused_and_wakes_nothing(memnet: MemNet) -> None:
    a, d = await memnet.node("a"), await memnet.node("d")
    await memnet.pair(a, d)
    pokes = named(a)
    bad = pack({"ext": {feed.NEWS_EXT: (b"\x01" * 32, 1, b"\x01" * 32, 2)}, "head": None})
    with pytest.raises(PeerRefused) as refused:
        await d.transport.post(await d.peer(a), "/poke", bad, 64)
    assert (refused.value.status, refused.value.code, refused.value.field) == (
        422, "invalid_field", "ext"
    )  # fmt: skip
    assert pokes == []


async def test_an_alert_stored_at_its_hop_limit_is_nobodys_news(livenet: MemNet) -> None:
    """B may pass on neither alert's copy past its limit: one stored at the limit is in
    no feed B serves, so B pokes nobody about it (its peers would ask for nothing)."""
    a, b, c = [await livenet.node(n) for n in "abc"]
    await livenet.pair(a, b)
    await livenet.pair(b, c)
    await feeds_read(a, b, c)
    pokes = named(c)
    at_limit = await a.publish("goes one hop", hops=1)
    await until(lambda: b.has(at_limit))
    further = await a.publish("goes two hops", hops=2)
    await until(lambda: c.has(further))
    assert pokes == [(feed.IdEntry("a", further, 1),)]
    assert requests(livenet, c, b, "/bodies") == 1
    assert not await c.has(at_limit)


async def test_a_published_alert_and_its_retraction_are_named_in_the_pokes(
    livenet: MemNet,
) -> None:
    """The origin's own pokes name what it published, so its peers fetch the body by
    id without reading its feed: the first step of every alert's trip, which a whole
    pull made two requests. One that may go no further than its origin is not poked
    about at all."""
    from tests.federation.test_netkeys import PHONE_A, key_ids, org

    a, b = await org(livenet, "a"), await org(livenet, "b")
    await livenet.pair(a.node, b.node)
    await feeds_read(a.node, b.node)

    async def settled() -> bool:
        # The network keys handed over both ways, and no pull under way or due (each
        # handover wakes a whole pull).
        syncers = [a.node.syncer, b.node.syncer]
        return key_ids(a) == key_ids(b) and not any(
            s._keys_due or any(e.is_set() for e in s._wake.values())
            or any(lock.locked() for lock in s._locks.values())
            for s in syncers
        )  # fmt: skip

    await until(settled)
    seen = named(b.node)
    changes = requests(livenet, b.node, a.node, "/changes")
    alert_id = await a.publish(PHONE_A)
    await until(lambda: b.node.has(alert_id))
    retraction_id = await a.service.retract(alert_id)

    async def retracted() -> bool:
        return not await b.node.has(alert_id) and bool(
            await b.node.store.alerts.get_envelopes([retraction_id], livenet.clock.now())
        )

    await until(retracted)
    assert [n for n in seen if n is not None] == [
        (feed.IdEntry("a", alert_id, 0),),
        # A poke does not say an entry's kind: "a" stands for both.
        (feed.IdEntry("a", retraction_id, 0),),
    ]
    assert requests(livenet, b.node, a.node, "/changes") == changes
    assert requests(livenet, b.node, a.node, "/bodies") == 2

    # Kept on its own node (hops 0): in no peer's feed, so no poke.
    pokes = requests(livenet, a.node, b.node, "/poke")
    draft = Draft(["violence"], 3, "GB", [("phone", PHONE_A)], hops=0)
    await a.service.publish(draft)
    await asyncio.sleep(0)
    assert requests(livenet, a.node, b.node, "/poke") == pokes
