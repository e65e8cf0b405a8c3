"""Only an alert's origin can retract or supersede it, whichever arrives first (issue 12,
item 1). A hostile peer that names someone else's alert in a retraction or a
superseding alert of its own, before that alert arrives, hides nothing: the alert is
still fetched and stored, and its origin's own retraction still works. Every race order
is forced by explicit pulls on the in-memory network."""

from __future__ import annotations

import dataclasses

import pytest

from federation.ingest import PullResult
from protocol.alert import sign_alert
from tests.federation.memnet import MemHostile, MemNet, MemNode, alert_body, retraction_by


def ok(result: PullResult) -> PullResult:
    assert result.error is None, result.error
    return result


def claim(evil: MemHostile, how: str, alert_id: bytes, now: int) -> None:
    """``evil`` serves a claim on ``alert_id``, signed by its own key: a retraction, or
    an alert of its own that says it supersedes ``alert_id``."""
    if how == "retraction":
        evil.serve(retraction_by(evil.key, alert_id, now, days=364))
    else:
        body = alert_body(evil.key, now, "the real one, honest")
        body = dataclasses.replace(body, supersedes=alert_id)
        evil.serve(sign_alert(body, evil.key, now))


async def markers(node: MemNode) -> int:
    return (await node.store.alerts.counts(node.net.clock.now())).get("markers", 0)


@pytest.mark.parametrize("how", ["retraction", "supersede"])
async def test_another_origins_claim_before_the_alert_hides_nothing(
    memnet: MemNet, how: str
) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    evil = await memnet.hostile("evil", b)
    now = memnet.clock.now()
    alert = await a.publish("from a")
    # EVIL saw the id somewhere and races its own claim on it to B, ahead of the alert.
    claim(evil, how, alert, now)
    ok(await b.pull(evil))
    # The alert is still fetched from A and stored; EVIL's marker is dropped.
    result = ok(await b.pull(a))
    assert result.stored == 1 and await b.has(alert)
    assert await markers(b) == 0
    # A's own retraction still acts.
    await a.retract(alert)
    result = ok(await b.pull(a))
    assert result.stored == 1 and not await b.has(alert)


async def test_a_claim_by_another_origin_never_blocks_the_origins_retraction(
    memnet: MemNet,
) -> None:
    """EVIL's retraction arrives first, then A's own, both before the alert; the alert
    then comes from C, which had it before A retracted it: A's retraction holds."""
    a, b, c = [await memnet.node(n) for n in "abc"]
    await memnet.pair(a, b)
    await memnet.pair(a, c)
    await memnet.pair(b, c)
    evil = await memnet.hostile("evil", b)
    alert = await a.publish("soon retracted", hops=3)
    ok(await c.pull(a))
    claim(evil, "retraction", alert, memnet.clock.now())
    ok(await b.pull(evil))
    retraction = await a.retract(alert)
    result = ok(await b.pull(a))
    assert result.stored == 1, "A's own retraction is kept beside EVIL's"
    assert await b.store.alerts.known_ids([retraction]) == {retraction}
    assert await markers(b) == 2
    # C still offers the alert: B fetches it, and A's retraction keeps it a tombstone.
    result = ok(await b.pull(c))
    assert result.bodies == 1 and result.stored == 0
    assert not await b.has(alert)
    assert await markers(b) == 0
    assert (await b.store.alerts.counts(memnet.clock.now()))["retractions"] == 1
    # Known now: offered again, it is not fetched again.
    epoch = await c.store.alerts.epoch()
    await b.store.peers.save_progress(c.pub, epoch=epoch, cursor=0, received=0, lag=0, now=0)
    result = ok(await b.pull(c))
    assert result.bodies == 0


async def test_the_origins_own_supersede_before_the_alert_applies(memnet: MemNet) -> None:
    """A supersedes its alert; B hears of the new one first (from A), and of the old one
    only later, from C: the old one stays a tombstone."""
    a, b, c = [await memnet.node(n) for n in "abc"]
    await memnet.pair(a, b)
    await memnet.pair(a, c)
    await memnet.pair(b, c)
    old = await a.publish("first version", hops=3)
    ok(await c.pull(a))
    now = memnet.clock.now()
    body = alert_body(a.key, now, "second version", hops=3)
    body = dataclasses.replace(body, supersedes=old)
    new = sign_alert(body, a.key, now)
    await a.store.alerts.put_alert(new, hops=0, received_from=None, now=now)
    ok(await b.pull(a))
    assert await b.has(new.id)
    ok(await b.pull(c))
    assert not await b.has(old)
    assert await markers(b) == 0


async def test_a_retraction_of_a_held_alert_by_another_origin_is_refused(memnet: MemNet) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    evil = await memnet.hostile("evil", b)
    alert = await a.publish("from a")
    ok(await b.pull(a))
    evil.serve(retraction_by(evil.key, alert, memnet.clock.now()))
    result = ok(await b.pull(evil))
    assert result.refused == 1 and result.refusal_code == "not_origin"
    assert await b.has(alert) and await markers(b) == 0
