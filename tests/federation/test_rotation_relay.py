"""A rotation statement travels past the rotating node's own peers (issue 12, item 11):
before, only a node's direct peers learnt that it had retired a key, so whoever held
the old key could still get new alerts signed by it stored through any relay that was
not one of those peers. On the in-memory network and the fake clock."""

from __future__ import annotations

import nacl.signing

from federation.clock import FakeClock
from protocol.alert import sign_alert
from protocol.rotation import KEY_GRACE_S, RETIRED_KEY, sign_rotation
from tests.federation.memnet import DAY_S, MemNet, MemNode, alert_body


async def forged(node: MemNode, old: nacl.signing.SigningKey, clock: FakeClock) -> bytes:
    """Whoever holds ``old`` signs a new alert and gets it into ``node``'s store."""
    now = clock.now()
    alert = sign_alert(alert_body(old, now, "signed by a retired key"), old, now)
    await node.store.alerts.put_alert(alert, hops=0, received_from=None, now=now)
    return alert.id


async def test_an_old_key_is_retired_beyond_the_rotating_nodes_peers(
    memnet: MemNet, clock: FakeClock
) -> None:
    # a - b - c - m: c and m are not a's peers; m holds a's old key. An alert of a's
    # reached c through b, so c passes the statement on too.
    a, b, c, m = [await memnet.node(n) for n in "abcm"]
    await memnet.pair(a, b)
    await memnet.pair(b, c)
    await memnet.pair(c, m)
    before = await a.publish("signed before the rotation", hops=2)
    await b.pull(a)
    await c.pull(b)
    assert await c.has(before)
    old, old_pub = a.key, a.pub
    await a.rotate()  # b takes it from a and owes it to c (not back to a)
    assert [r[1] for r in await b.store.peers.owed_rotations()] == [c.pub]
    await b.courier.deliver_due()  # c takes it from b, and owes it to m
    assert [r[1] for r in await c.store.peers.owed_rotations()] == [m.pub]
    await c.courier.deliver_due()
    assert not await b.store.peers.owed_rotations()
    for node in (b, c, m):
        assert await node.store.peers.retired_at(old_pub) is not None
    # c's trust list is untouched by a statement about a node it does not peer with.
    assert {p.key for p in await c.store.peers.list()} == {b.pub, m.pub}

    clock.advance(KEY_GRACE_S + DAY_S)
    late = await forged(m, old, clock)
    refused = await c.pull(m)
    assert refused.error is None and refused.stored == 0
    assert refused.refusal_code == RETIRED_KEY
    assert not await c.has(late)


async def test_a_statement_for_a_key_nobody_here_has_alerts_from_stops_here(
    memnet: MemNet, clock: FakeClock
) -> None:
    """Anyone can mint keys and sign statements for them. c keeps what m passes on
    (charged to m) but passes on only statements about origins it holds alerts from,
    so m cannot spend c's allowance at c's other peers."""
    b, c, m = [await memnet.node(n) for n in "bcm"]
    await memnet.pair(b, c)
    await memnet.pair(c, m)
    target = await m.peer(c)
    for _ in range(10):
        old, new = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()
        statement = sign_rotation(old, new, clock.now()).envelope.to_bytes()
        await m.transport.post(target, "/rotate", statement, 1024)
        assert await c.store.peers.retired_at(bytes(old.verify_key)) is not None
    assert not await c.store.peers.owed_rotations()
    # The same from a key c holds an alert from is passed on to b.
    rows = await c.store.db.fetchall("SELECT count(*) FROM rotation_statements")
    assert rows[0][0] == 10
    real = nacl.signing.SigningKey.generate()
    now = clock.now()
    alert = sign_alert(alert_body(real, now, "from an origin c knows"), real, now)
    await c.store.alerts.put_alert(alert, hops=2, received_from=m.pub, now=now)
    statement = sign_rotation(real, nacl.signing.SigningKey.generate(), now).envelope.to_bytes()
    await m.transport.post(target, "/rotate", statement, 1024)
    assert [r[1] for r in await c.store.peers.owed_rotations()] == [b.pub]


async def test_a_statement_known_already_is_not_passed_on_again(
    memnet: MemNet, clock: FakeClock
) -> None:
    # A ring b - c - d - b around a: each learns it once and passes it on once.
    a, b, c, d = [await memnet.node(n) for n in "abcd"]
    await memnet.pair(a, b)
    await memnet.pair(b, c)
    await memnet.pair(c, d)
    await memnet.pair(d, b)
    await a.publish("reaches the ring", hops=3)
    for puller, source in ((b, a), (c, b), (d, b)):
        await puller.pull(source)
    old_pub = a.pub
    await a.rotate()
    for _ in range(4):
        for node in (b, c, d):
            await node.courier.deliver_due()
    for node in (b, c, d):
        assert not await node.store.peers.owed_rotations()
        assert await node.store.peers.retired_at(old_pub) is not None
    # The statement came back to b from c or d: kept once, passed on no further.
    rows = await b.store.db.fetchall("SELECT count(*) FROM rotation_statements")
    assert rows[0][0] == 1


async def test_a_relayed_statement_retires_but_does_not_move_a_peer(
    memnet: MemNet, clock: FakeClock
) -> None:
    """A statement about one of c's own peers, brought by another peer, retires the old
    key (both keys signed it) but leaves the trust-list entry to the peer's own word."""
    a, b, c = [await memnet.node(n) for n in "abc"]
    await memnet.pair(a, b)
    await memnet.pair(b, c)
    await memnet.pair(a, c)
    new = nacl.signing.SigningKey.generate()
    statement = sign_rotation(a.key, new, clock.now()).envelope.to_bytes()
    await b.transport.post(await b.peer(c), "/rotate", statement, 1024)
    assert await c.store.peers.retired_at(a.pub) is not None
    assert await c.store.peers.get(a.pub) is not None
    assert await c.store.peers.get(bytes(new.verify_key)) is None
