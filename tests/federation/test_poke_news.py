"""A poke that names its news (issue 17, item 2): a relay's poke names what its pull
stored, and a node that already holds all of it skips the pull the poke asks for.

Over 100 nodes each node is poked by about three peers for every alert; all but the
first of those pulls only confirmed what it held, a changes request each. On the
in-memory network with the fake clock and real SQLite stores."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from federation.errors import PeerRefused
from federation.news import News
from federation.workers import MAX_NEWS_HELD
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
    return a, b, c, d


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
    alert_id = await a.publish("one alert, two relays")
    await until(lambda: d.has(alert_id))

    async def poked_by_d() -> bool:
        return bool(pokes)

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


async def test_a_poke_naming_what_a_node_lacks_is_pulled(livenet: MemNet) -> None:
    a, b, d = [await livenet.node(n) for n in "abd"]
    await livenet.pair(a, b)
    await livenet.pair(b, d)
    pokes = named(d)
    alert_id = await a.publish("relayed once")
    await until(lambda: d.has(alert_id))
    assert [feed.IdEntry("a", alert_id, 1)] in [list(n) for n in pokes if n]
    assert d.syncer.pulls_spared == 0


async def test_a_held_alert_offered_by_a_shorter_path_is_lowered_without_a_pull(
    memnet: MemNet,
) -> None:
    """D holds A's alert by C (three hops); B's poke offers it at one hop from A."""
    a, b, c, d = [await memnet.node(n) for n in "abcd"]
    for x, y in ((a, b), (b, c), (c, d), (b, d)):
        await memnet.pair(x, y)
    alert_id = await a.publish("two ways round", hops=4)
    for node, source in ((b, a), (c, b), (d, c)):
        assert (await node.pull(source)).stored == 1
    now = memnet.clock.now()
    assert (await d.store.alerts.held_hops([alert_id], now))[alert_id].hops == 3
    before = len(memnet.network.log)
    offer = (feed.IdEntry("a", alert_id, 1),)
    assert await d.syncer.holds(await d.peer(b), offer)
    assert (await d.store.alerts.held_hops([alert_id], now))[alert_id].hops == 2
    assert len(memnet.network.log) == before


async def test_a_named_body_another_pull_is_fetching_is_waited_for(memnet: MemNet) -> None:
    a, b, d = [await memnet.node(n) for n in "abd"]
    await memnet.pair(a, b)
    await memnet.pair(a, d)
    await memnet.pair(b, d)
    alert_id = await a.publish("in flight")
    assert (await b.pull(a)).stored == 1
    entry = feed.IdEntry("a", alert_id, 1)
    # D's pull from A has the body in flight when B's poke names it.
    mine, _ = d.syncer.in_flight.claim([entry])
    assert mine == [entry]
    asked = asyncio.ensure_future(d.syncer.holds(await d.peer(b), (entry,)))
    await asyncio.sleep(0)
    assert not asked.done()
    now = memnet.clock.now()
    stored = await a.store.alerts.get_alert(alert_id, now)
    assert stored is not None
    alert = verify_alert(stored.envelope, now)
    assert await d.store.alerts.put_alert(alert, hops=1, received_from=a.pub, now=now)
    d.syncer.in_flight.release([entry])
    assert await asked
    # Named, not held: the pull goes ahead.
    other = feed.IdEntry("a", b"\x09" * 32, 1)
    assert not await d.syncer.holds(await d.peer(b), (entry, other))


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
