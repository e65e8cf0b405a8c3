"""Race orders on the in-memory network, each forced exactly by explicit pulls:
a retraction before its alert, an alert offered after a purge, a key rotation during
a pull, and a blocked origin whoever brings it."""

from __future__ import annotations

from federation.ingest import PullResult
from tests.federation.memnet import MemNet


def ok(result: PullResult) -> PullResult:
    assert result.error is None, result.error
    return result


async def test_retraction_before_its_alert_keeps_the_alert_out(memnet: MemNet) -> None:
    a, b, c = [await memnet.node(n) for n in "abc"]
    await memnet.pair(a, b)
    await memnet.pair(a, c)
    await memnet.pair(b, c)
    alert = await a.publish("soon retracted")
    ok(await c.pull(a))
    assert await c.has(alert)
    await a.retract(alert)
    # B hears of the retraction first, from A ...
    ok(await b.pull(a))
    assert not await b.has(alert)
    # ... and only then is offered the alert itself, by C, which has not heard yet.
    offered = ok(await b.pull(c))
    # Offered in C's feed, it is known from its retraction and never stored.
    assert offered.stored == 0 and offered.known + offered.refused == 1
    assert not await b.has(alert)
    assert (await b.store.alerts.counts(memnet.clock.now()))["retractions"] == 1
    ok(await c.pull(a))
    assert not await c.has(alert)


async def test_alert_offered_after_a_purge(memnet: MemNet) -> None:
    """Purging a removed peer forgets what it originated; it does not block it: a relay
    may bring it back unless the origin is blocked too."""
    a, b, c, d = [await memnet.node(n) for n in "abcd"]
    for x in (b, d):
        await memnet.pair(a, x)
        await memnet.pair(c, x)
    await memnet.pair(a, c)
    alert = await a.publish("from a", hops=3)
    ok(await c.pull(a))
    for x in (b, d):
        ok(await x.pull(a))
        assert await x.has(alert)
        await x.store.peers.remove(a.pub)
        assert await x.store.alerts.purge_origin(a.pub) >= 1
        assert not await x.has(alert)
    await d.store.peers.block_origin(a.pub, memnet.clock.now())
    ok(await b.pull(c))
    ok(await d.pull(c))
    assert await b.has(alert), "purge alone is not a block"
    assert not await d.has(alert), "a blocked origin stays out"


async def test_key_rotation_during_a_pull(memnet: MemNet) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    before = [await a.publish(f"before {i}") for i in range(3)]
    old = a.pub
    rotated = False

    async def rotate_mid_pull(path: str) -> None:
        nonlocal rotated
        if path.endswith("/bodies") and not rotated:
            rotated = True
            await a.rotate()

    memnet.network.link(b.addr, a.addr).before = rotate_mid_pull
    interrupted = await b.pull(a)
    assert rotated
    # The bodies request was signed for A's old key: A refuses it, nothing is stored
    # and no cursor moves; B's entry already sits under the new key only.
    assert interrupted.error_code == "bad_signature" and interrupted.error
    assert interrupted.stored == 0
    assert await b.store.peers.get(old) is None
    moved = await b.store.peers.get(a.pub)
    assert moved is not None and moved.cursor == 0
    memnet.network.link(b.addr, a.addr).before = None
    # The next pull, under the new key, brings everything, old-key alerts included.
    after = await a.publish("after")
    result = ok(await b.pull(a))
    assert result.stored == 4 and result.bodies == 4
    for alert in (*before, after):
        assert await b.has(alert)
    assert [p.key for p in await b.store.peers.list()] == [a.pub]


async def test_blocked_origin_is_dropped_whoever_brings_it(memnet: MemNet) -> None:
    a, b, c, e = [await memnet.node(n) for n in "abce"]
    await memnet.pair(a, b)
    await memnet.pair(b, c)
    await memnet.pair(a, e)
    await memnet.pair(e, c)
    await c.store.peers.block_origin(a.pub, memnet.clock.now())
    blocked = await a.publish("blocked at c", hops=3)
    ok(await b.pull(a))
    ok(await e.pull(a))
    offered = ok(await c.pull(b))
    assert offered.refused == 1 and not await c.has(blocked)
    # Unblocked, the same alert comes in from whoever brings it next (E, a second path).
    await c.store.peers.unblock_origin(a.pub)
    ok(await c.pull(e))
    assert await c.has(blocked)
