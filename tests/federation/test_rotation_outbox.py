"""Key rotation done right, on the in-memory network and the fake clock: a rotated
peer is never served what it originated under its old key, a retired key's new
alerts are refused (retired_key), and a statement that could not be delivered is
retried from the durable outbox until the peer takes it."""

from __future__ import annotations

import asyncio

from federation.ingest import PullResult
from node.network.rotation import OUTBOX_FIRST_RETRY_S
from protocol import feed
from protocol.alert import sign_alert
from protocol.rotation import KEY_GRACE_S, RETIRED_KEY
from tests.federation.memnet import DAY_S, MemNet, MemNode, alert_body, until


def ok(result: PullResult) -> PullResult:
    assert result.error is None, result.error
    return result


async def listed(server: MemNode, caller: MemNode) -> list[bytes]:
    """The ids ``server``'s feed offers ``caller``."""
    raw = await caller.transport.post(
        await caller.peer(server),
        "/changes",
        feed.encode_changes_request(feed.ChangesRequest(0, feed.MAX_FEED_ENTRIES)),
        feed.MAX_CHANGES_RESPONSE_BYTES,
    )
    return [e.id for e in feed.decode_changes_response(raw).entries]


async def test_a_rotated_peer_is_not_served_its_own_old_key_items(memnet: MemNet) -> None:
    a, b, c = [await memnet.node(n) for n in "abc"]
    await memnet.pair(a, b)
    await memnet.pair(b, c)
    await memnet.pair(a, c)
    mine = await a.publish("signed by a's first key", hops=3)
    ok(await b.pull(a))
    ok(await c.pull(b))  # c holds it from b: received_from is b, origin a's old key
    await a.rotate()
    seen: list[bytes] = []
    a.syncer.observer = lambda _peer, item: seen.append(item)
    assert (await b.peer(a)).previous and (await c.peer(a)).previous
    theirs = await b.publish("from b")
    assert await listed(b, a) == [theirs]
    assert mine not in await listed(c, a)
    ok(await a.pull(b))
    ok(await a.pull(c))
    assert await a.has(theirs) and mine not in seen


async def test_a_retired_keys_new_alerts_are_refused(memnet: MemNet) -> None:
    a, b, c = [await memnet.node(n) for n in "abc"]
    await memnet.pair(a, b)
    await memnet.pair(b, c)
    old = a.key
    await a.rotate()

    async def forged_via_c(text: str) -> bytes:
        # Whoever holds a's old key signs an alert now and gets it to c, b's peer.
        now = memnet.clock.now()
        alert = sign_alert(alert_body(old, now, text), old, now)
        await c.store.alerts.put_alert(alert, hops=0, received_from=None, now=now)
        return alert.id

    memnet.clock.advance(DAY_S)  # within the grace period: still taken
    early = await forged_via_c("in the grace period")
    taken = ok(await b.pull(c))
    assert taken.stored == 1 and await b.has(early)
    memnet.clock.advance(KEY_GRACE_S)
    late = await forged_via_c("after the grace period")
    refused = ok(await b.pull(c))
    assert refused.stored == 0 and refused.refused == 1
    assert refused.refusal_code == RETIRED_KEY
    assert not await b.has(late)


async def test_an_unreachable_peer_gets_the_rotation_after_it_comes_back(
    memnet: MemNet,
) -> None:
    a, b, c = [await memnet.node(n) for n in "abc"]
    await memnet.pair(a, b)
    await memnet.pair(a, c)
    memnet.network.link(a.addr, b.addr).cut = True
    await a.rotate()
    # c was told at once; b was not, and is owed the statement, durably.
    assert await c.store.peers.get(a.pub) is not None
    assert await b.store.peers.get(a.pub) is None
    owed = await a.store.peers.owed_rotations()
    assert [(peer, attempts) for _, peer, _, attempts, _ in owed] == [(b.pub, 1)]
    memnet.network.link(a.addr, b.addr).cut = False
    courier = a.courier
    task = asyncio.create_task(courier.run())
    try:
        # The courier has read its outbox and waits for the retry time (its database
        # reads take real time, so wait for that before moving the clock; another
        # sleeper may be waiting already, so look for the courier's own deadline).
        async def courier_waits() -> bool:
            return OUTBOX_FIRST_RETRY_S in memnet.clock.pending()

        await until(courier_waits)
        # Not before its retry time ...
        await memnet.clock.elapse(OUTBOX_FIRST_RETRY_S - 1)
        assert await b.store.peers.get(a.pub) is None
        # ... and then it is delivered and leaves the outbox.
        await memnet.clock.elapse(1)
        await until(lambda: _knows(b, a))
        await until(_empty(a))
    finally:
        task.cancel()
    entry = await b.peer(a)
    assert entry.previous and await b.store.peers.retired_at(entry.previous[0]) is not None
    alert = await a.publish("after the rotation")
    ok(await b.pull(a))
    assert await b.has(alert)


async def test_a_statement_a_peer_refuses_for_good_leaves_the_outbox(memnet: MemNet) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    await b.store.peers.remove(a.pub)  # b no longer knows a: 403, never to change
    await a.rotate()
    assert await a.store.peers.owed_rotations() == []


async def _knows(b: MemNode, a: MemNode) -> bool:
    return await b.store.peers.get(a.pub) is not None


def _empty(a: MemNode):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return await a.store.peers.owed_rotations() == []

    return check
