"""Two peers poke a node about the same alert at once (issue 17, item 2): the node
asks only one of them for the body, and still fetches from the second what the
first one's answer did not give it (our trust policy refused it there).

On the in-memory network with the fake clock: each test holds the first peer's
/bodies request until the second pull has read its changes feed, so both pulls want
the body at the same time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from federation.inflight import IN_FLIGHT_WAIT_S
from federation.ingest import PullResult
from tests.federation.memnet import MemNet, MemNode, until


async def _two_paths(memnet: MemNet, accept_first: str) -> tuple[MemNode, MemNode, MemNode, bytes]:
    """A publishes; B and C hold it; D trusts B (with ``accept_first``) and C."""
    a, b, c, d = [await memnet.node(n) for n in "abcd"]
    await memnet.pair(a, b)
    await memnet.pair(a, c)
    await memnet.add_peer(d, b, accept_first)
    await memnet.add_peer(d, c)
    await memnet.add_peer(b, d)
    await memnet.add_peer(c, d)
    alert_id = await a.publish("one alert, two paths")
    for holder in (b, c):
        assert (await holder.pull(a)).stored == 1
    return b, c, d, alert_id


async def _both_at_once(
    memnet: MemNet, b: MemNode, c: MemNode, d: MemNode
) -> tuple[PullResult, PullResult, list[tuple[bytes, bytes]]]:
    """D pulls B and C concurrently: B's /bodies waits until C's pull has either asked
    C for the body too or is waiting for B's fetch; C's /changes waits for B's /bodies."""
    seen: list[tuple[bytes, bytes]] = []
    d.syncer.observer = lambda peer, item: seen.append((peer, item))
    b_asked, go = asyncio.Event(), asyncio.Event()
    c_asked = asyncio.Event()

    async def hold_b(path: str) -> None:
        if path.endswith("/bodies"):
            b_asked.set()
            await go.wait()

    async def after_b(path: str) -> None:
        if path.endswith("/changes"):
            await b_asked.wait()
        if path.endswith("/bodies"):
            c_asked.set()

    memnet.network.link(d.addr, b.addr).before = hold_b
    memnet.network.link(d.addr, c.addr).before = after_b
    pulls = asyncio.gather(d.pull(b), d.pull(c))

    async def c_moved() -> bool:
        return c_asked.is_set() or IN_FLIGHT_WAIT_S in memnet.clock.pending()

    await until(c_moved)
    go.set()
    from_b, from_c = await pulls
    return from_b, from_c, seen


async def test_a_body_two_peers_offer_at_once_crosses_one_edge(memnet: MemNet) -> None:
    b, c, d, alert_id = await _two_paths(memnet, "relay")
    from_b, from_c, seen = await _both_at_once(memnet, b, c, d)
    # Before the in-flight set: both B and C sent the body ([(B, id), (C, id)]).
    assert seen == [(b.pub, alert_id)]
    assert from_b.stored == 1 and from_c.stored == 0 and from_c.known == 1
    assert await d.has(alert_id)
    assert len(d.syncer.in_flight) == 0


async def test_a_body_one_peer_policy_refused_is_fetched_from_the_other(memnet: MemNet) -> None:
    # D takes only B's own alerts from B: A's alert relayed by B is refused there.
    b, c, d, alert_id = await _two_paths(memnet, "direct")
    from_b, from_c, seen = await _both_at_once(memnet, b, c, d)
    assert seen == [(b.pub, alert_id), (c.pub, alert_id)]
    assert from_b.stored == 0 and from_b.refused == 1
    assert from_c.stored == 1
    assert await d.has(alert_id)
    assert len(d.syncer.in_flight) == 0


async def test_two_waiters_woken_together_fetch_the_refused_body_once(memnet: MemNet) -> None:
    """B's answer is refused while C's and E's pulls both wait for it: when B's fetch is
    over, one of them fetches the body and the other waits for that one in turn."""
    a, b, c, d, e = [await memnet.node(n) for n in "abcde"]
    for holder in (b, c, e):
        await memnet.pair(a, holder)
        await memnet.add_peer(holder, d)
    await memnet.add_peer(d, b, "direct")  # A's alert relayed by B is refused at D
    await memnet.add_peer(d, c)
    await memnet.add_peer(d, e)
    alert_id = await a.publish("one alert, three paths")
    for holder in (b, c, e):
        assert (await holder.pull(a)).stored == 1
    seen: list[tuple[bytes, bytes]] = []
    d.syncer.observer = lambda peer, item: seen.append((peer, item))
    b_asked, go = asyncio.Event(), asyncio.Event()
    read = {c.addr: asyncio.Event(), e.addr: asyncio.Event()}

    async def hold_b(path: str) -> None:
        if path.endswith("/bodies"):
            b_asked.set()
            await go.wait()

    def after_b(addr: str) -> Callable[[str], Awaitable[None]]:
        async def before(path: str) -> None:
            if path.endswith("/changes"):
                await b_asked.wait()
                read[addr].set()

        return before

    memnet.network.link(d.addr, b.addr).before = hold_b
    for other in (c, e):
        memnet.network.link(d.addr, other.addr).before = after_b(other.addr)
    pulls = asyncio.gather(d.pull(b), d.pull(c), d.pull(e))

    async def both_wait() -> bool:
        waiting = memnet.clock.pending().count(IN_FLIGHT_WAIT_S)
        return all(event.is_set() for event in read.values()) and waiting == 2

    await until(both_wait)
    go.set()
    from_b, from_c, from_e = await pulls
    assert from_b.refused == 1
    # Before each waiter claimed what it then fetched: C and E both sent the body.
    assert len(seen) == 2 and seen[0] == (b.pub, alert_id)
    assert from_c.stored + from_e.stored == 1 and from_c.known + from_e.known == 1
    assert await d.has(alert_id)
    assert len(d.syncer.in_flight) == 0
