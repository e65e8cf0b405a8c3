"""A shorter path lowers a held alert's hop count (docs/protocol.md section 10, "A
shorter path"; federation/hops.py), found by the 1,000-node simulation: a node kept
the count of the first copy it got, which under uneven latency came the long way, so a
node within the limit by the shortest path missed the alert.

The network (hop limit 2): origin O, relay L, node S, far node F.

    O ---- L ---- S ---- F        fast long path O-L-S (S at 2, the limit)
    \\____________/                slow short path O-S (S at 1)

Pull order stands for latency: the copy by the long path reaches S first.
"""

from __future__ import annotations

import pytest

from protocol.alert import verify_alert
from tests.federation.memnet import MemNet, MemNode

DAY_S = 86400


async def diamond(memnet: MemNet) -> tuple[MemNode, MemNode, MemNode, MemNode]:
    o, lr, s, f = [await memnet.node(n) for n in ("o", "l", "s", "f")]
    for a, b in ((o, lr), (lr, s), (o, s), (s, f)):
        await memnet.pair(a, b)
    return o, lr, s, f


async def held(node: MemNode, alert_id: bytes) -> int | None:
    found = await node.store.alerts.held_hops([alert_id], node.net.clock.now())
    return found[alert_id].hops if alert_id in found else None


@pytest.mark.asyncio
async def test_the_far_node_gets_the_alert_once_the_short_path_arrives(memnet: MemNet) -> None:
    o, lr, s, f = await diamond(memnet)
    alert = await o.publish("short path", hops=2)
    await lr.pull(o)
    first = await s.pull(lr)  # the fast long way: S holds it at the limit
    assert first.stored == 1 and await held(s, alert) == 2
    await f.pull(s)
    assert not await f.has(alert)  # S may not pass on what it holds at the limit

    late = await s.pull(o)  # the slow short way: the origin offers it at 0
    assert late.lowered == 1 and late.bodies == 0  # no body fetched again
    assert await held(s, alert) == 1

    got = await f.pull(s)  # F's cursor is past the old position: the alert moved
    assert got.stored == 1 and await f.has(alert)
    assert await held(f, alert) == 2


@pytest.mark.asyncio
async def test_a_lowering_moves_on_down_the_line(memnet: MemNet) -> None:
    """A node whose count was lowered passes the lower count on, so a node that held it
    at the limit through it is lowered too (and may then relay)."""
    o, lr, s, f = await diamond(memnet)
    g = await memnet.node("g")
    await memnet.pair(f, g)
    alert = await o.publish("three hops", hops=3)
    await lr.pull(o)
    await s.pull(lr)  # S at 2
    await f.pull(s)  # F at 3, the limit
    await g.pull(f)
    assert not await g.has(alert)
    await s.pull(o)  # S at 1
    assert (await f.pull(s)).lowered == 1 and await held(f, alert) == 2
    assert (await g.pull(f)).stored == 1 and await held(g, alert) == 3


@pytest.mark.asyncio
async def test_a_peer_cannot_raise_a_count(memnet: MemNet) -> None:
    o, lr, s, _f = await diamond(memnet)
    alert = await o.publish("held short", hops=2)
    await s.pull(o)  # the short way first: S at 1
    await lr.pull(o)  # L at 1, offers it to S as 1 (S would count 2)
    assert (await s.pull(lr)).lowered == 0
    assert await held(s, alert) == 1

    evil = await memnet.hostile("evil", s)
    stored = await o.store.alerts.get_alert(alert, memnet.clock.now())
    assert stored is not None

    evil.serve(verify_alert(stored.envelope, memnet.clock.now()), hops=5)
    result = await s.pull(evil)  # type: ignore[arg-type]
    assert result.lowered == 0 and result.stored == 0
    assert await held(s, alert) == 1


@pytest.mark.asyncio
async def test_a_lying_relay_lowers_a_count_only_to_itself(memnet: MemNet) -> None:
    """A relay that claims 0 is counted as one hop from the origin, as on receipt."""
    o, lr, s, _f = await diamond(memnet)
    m = await memnet.node("m")
    await memnet.pair(o, m)
    await memnet.pair(m, lr)
    alert = await o.publish("long way", hops=4)
    await m.pull(o)
    await lr.pull(m)  # L at 2
    await s.pull(lr)  # S at 3
    evil = await memnet.hostile("evil", s)
    stored = await o.store.alerts.get_alert(alert, memnet.clock.now())
    assert stored is not None

    evil.serve(verify_alert(stored.envelope, memnet.clock.now()), hops=0)
    assert (await s.pull(evil)).lowered == 1  # type: ignore[arg-type]
    assert await held(s, alert) == 2  # never 1: only the origin is one hop away


@pytest.mark.asyncio
async def test_a_retracted_alert_is_not_brought_back(memnet: MemNet) -> None:
    o, lr, s, f = await diamond(memnet)
    alert = await o.publish("withdrawn", hops=2)
    stored = await o.store.alerts.get_alert(alert, memnet.clock.now())
    assert stored is not None
    await lr.pull(o)
    await s.pull(lr)  # S at 2
    await o.retract(alert)
    await lr.pull(o)
    await s.pull(lr)  # the retraction: S keeps a tombstone
    assert not await s.has(alert)
    before = await s.store.alerts.last_pos()

    evil = await memnet.hostile("evil", s)
    evil.serve(verify_alert(stored.envelope, memnet.clock.now()), hops=0)
    result = await s.pull(evil)  # type: ignore[arg-type]
    assert result.lowered == 0 and result.stored == 0
    assert not await s.has(alert)
    assert await s.store.alerts.last_pos() == before  # no log entry came back
    assert not await s.store.alerts.rows_by_id([alert])
    await f.pull(s)
    assert not await f.has(alert)


@pytest.mark.asyncio
async def test_an_expired_alert_is_not_brought_back(memnet: MemNet) -> None:
    o, lr, s, _f = await diamond(memnet)
    alert = await o.publish("old", hops=2)
    await lr.pull(o)
    await s.pull(lr)
    held_before = await held(s, alert)
    assert held_before == 2
    memnet.clock.advance(31 * DAY_S)
    assert await s.store.alerts.lower_hops([(alert, 1)], memnet.clock.now()) == []
    assert (await s.pull(o)).lowered == 0


@pytest.mark.asyncio
async def test_a_direct_peer_cannot_lower_what_it_did_not_originate(memnet: MemNet) -> None:
    """The trust list's word holds: S takes only L's own alerts from L, so L's shorter
    path to O's alert changes nothing."""
    o, lr, s, _f = await diamond(memnet)
    m1, m2 = await memnet.node("m1"), await memnet.node("m2")
    await memnet.pair(o, m1)
    await memnet.pair(m1, m2)
    await memnet.pair(m2, s)
    await s.store.peers.set_policy(lr.pub, accept="direct")
    alert = await o.publish("policy", hops=3)
    await m1.pull(o)
    await m2.pull(m1)
    await s.pull(m2)  # S at 3, the limit
    await lr.pull(o)  # L at 1: S would count 2
    assert (await s.pull(lr)).lowered == 0
    assert await held(s, alert) == 3


@pytest.mark.asyncio
async def test_a_relisted_alert_is_not_routed_to_members_twice(memnet: MemNet) -> None:
    o, lr, s, _f = await diamond(memnet)
    alert = await o.publish("notify once", hops=2)
    await lr.pull(o)
    await s.pull(lr)
    alerts = s.store.alerts
    # The notifier has routed everything so far.
    await s.store.notify.set_cursor(await alerts.last_pos())
    await s.pull(o)
    (row,) = await alerts.rows_by_id([alert])
    assert row.relisted and row.hops == 1


@pytest.mark.asyncio
async def test_a_relisted_alert_not_yet_routed_is_still_routed(memnet: MemNet) -> None:
    o, lr, s, _f = await diamond(memnet)
    alert = await o.publish("notify later", hops=2)
    await lr.pull(o)
    await s.pull(lr)
    await s.store.notify.set_cursor(0)  # the notifier has not reached it yet
    await s.pull(o)
    (row,) = await s.store.alerts.rows_by_id([alert])
    assert not row.relisted and row.hops == 1


@pytest.mark.asyncio
async def test_a_body_fetched_again_offers_its_count(memnet: MemNet) -> None:
    """Two pulls can fetch the same body (one checked what it holds just before the
    other stored it): the second copy is no new alert, but its shorter path is taken,
    as from a feed entry, and passed on."""
    o, lr, s, f = await diamond(memnet)
    alert = await o.publish("fetched twice", hops=2)
    await lr.pull(o)
    assert (await s.pull(lr)).stored == 1 and await held(s, alert) == 2
    known_ids = s.store.alerts.known_ids

    async def not_yet(ids: list[bytes]) -> set[bytes]:
        return set()  # as if read before the copy from L was written

    s.store.alerts.known_ids = not_yet  # type: ignore[method-assign]
    again = await s.pull(o)
    s.store.alerts.known_ids = known_ids  # type: ignore[method-assign]
    assert (again.bodies, again.stored, again.lowered) == (1, 0, 1)
    assert await held(s, alert) == 1
    got = await f.pull(s)
    assert got.stored == 1 and await held(f, alert) == 2
