"""A peer that mints origins and floods retractions is cut off at its quotas, the
database stays bounded, and honest peers' alerts still get in (issue 12, item 4).

Origins cost nothing to make, so the per-origin quota alone bounded nothing: 1,322
alerts from 1,322 new origins plus about 3,000 retraction markers grew a database by
23 MB in 3.5 s. Here a hostile peer serves 1,200 alerts from 1,200 fresh origins (half
of them superseding alerts nobody holds) and 3,000 retractions (from 3,000 more fresh
origins, naming alerts nobody holds) to a node
whose quotas are lowered so that the test stays small; the limits scale as written in
docs/federation.md."""

from __future__ import annotations

import asyncio
import dataclasses
import os

import nacl.signing

from federation.ingest import PullResult
from federation.quota import QUOTA_RECOUNT_S, Quotas
from protocol.alert import sign_alert
from tests.federation.memnet import DAY_S, MemHostile, MemNet, MemNode, alert_body, retraction_by

QUOTAS = Quotas(per_origin=50, per_peer=300, unnamed=450, markers_per_peer=200, markers=300)


def ok(result: PullResult) -> PullResult:
    assert result.error is None, result.error
    return result


def mint_alerts(evil: MemHostile, count: int, now: int, *, supersede: bool = False) -> None:
    """``count`` alerts, each from a fresh origin, relayed by ``evil``; with
    ``supersede``, every other one says it replaces an alert nobody holds."""
    for n in range(count):
        key = nacl.signing.SigningKey.generate()
        body = alert_body(key, now, f"minted {n}")
        if supersede and n % 2:
            body = dataclasses.replace(body, supersedes=os.urandom(32))
        evil.serve(sign_alert(body, key, now), hops=1)


def mint_retractions(evil: MemHostile, count: int, now: int) -> None:
    """``count`` retractions, each from a fresh origin, of alerts nobody holds."""
    for _ in range(count):
        key = nacl.signing.SigningKey.generate()
        evil.serve(retraction_by(key, os.urandom(32), now, days=364), hops=1)


async def rows(node: MemNode) -> dict[str, int]:
    db = node.store.db
    out = {}
    for table in ("alerts", "markers", "retractions", "log", "indicators"):
        row = await db.fetchone(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
        assert row is not None
        out[table] = int(row[0])
    return out


async def db_bytes(node: MemNode) -> int:
    await node.store.db.checkpoint()
    row = await node.store.db.fetchone(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
    )
    assert row is not None
    return int(row[0])


async def test_minted_origins_and_a_retraction_flood_stop_at_the_peers_quota(
    memnet: MemNet,
) -> None:
    a, b, c, d = [await memnet.node(n) for n in "abcd"]
    await memnet.pair(a, b)
    await memnet.pair(b, c)
    await memnet.pair(c, d)  # D is no peer of B: B cannot name it
    evil = await memnet.hostile("evil", b)
    b.syncer.quotas = QUOTAS
    now = memnet.clock.now()
    before = await db_bytes(b)
    mint_alerts(evil, 1200, now, supersede=True)
    mint_retractions(evil, 3000, now)
    flood = ok(await b.pull(evil))
    # Cut off at its quotas: 300 alerts, 200 retraction markers; the rest refused.
    assert flood.stored == QUOTAS.per_peer + QUOTAS.markers_per_peer
    assert flood.refused == 1200 - QUOTAS.per_peer + 3000 - QUOTAS.markers_per_peer
    counts = await rows(b)
    assert counts["alerts"] == QUOTAS.per_peer
    assert counts["retractions"] == QUOTAS.markers_per_peer
    # Half the stored alerts supersede an alert nobody holds: one marker each, at most.
    assert counts["markers"] == QUOTAS.markers_per_peer + QUOTAS.per_peer // 2
    assert counts["log"] == QUOTAS.per_peer + QUOTAS.markers_per_peer
    grown = await db_bytes(b) - before
    print(f"database grew by {grown} bytes for {flood.bodies} bodies served")
    assert grown < 2_000_000
    peers = {p.key: s for p, s in await b.store.peers.list_with_stats()}
    assert peers[evil.pub]["refused"]["last"]["code"] == "markers_over_quota"
    # More of the same is refused at once, without growing anything.
    mint_alerts(evil, 100, now)
    mint_retractions(evil, 100, now)
    again = ok(await b.pull(evil))
    assert again.stored == 0 and again.refused == 200
    assert await rows(b) == counts
    # Honest peers still get in: A's own alerts, and D's relayed by C.
    mine = [await a.publish(f"honest {n}") for n in range(5)]
    relayed = await d.publish("relayed by c", hops=3)
    ok(await c.pull(d))
    assert ok(await b.pull(a)).stored == 5
    assert ok(await b.pull(c)).stored == 1
    for alert in (*mine, relayed):
        assert await b.has(alert)


async def test_origins_nobody_can_name_share_one_quota(memnet: MemNet) -> None:
    b, a = await memnet.node("b"), await memnet.node("a")
    await memnet.pair(a, b)
    evil1 = await memnet.hostile("evil1", b)
    evil2 = await memnet.hostile("evil2", b)
    b.syncer.quotas = QUOTAS
    now = memnet.clock.now()
    for evil in (evil1, evil2):
        # Each serves ten alerts of its own origin (named: not in the shared quota, in
        # its own as a peer), then minted ones.
        for n in range(10):
            evil.serve(sign_alert(alert_body(evil.key, now, f"own {n}"), evil.key, now))
        mint_alerts(evil, QUOTAS.per_peer, now)
    results = await asyncio.gather(b.pull(evil1), b.pull(evil2))
    assert sum(ok(r).stored for r in results) == 2 * 10 + QUOTAS.unnamed
    codes = {r.refusal_code for r in results}
    assert "unnamed_over_quota" in codes and codes <= {"unnamed_over_quota", "peer_over_quota"}
    for evil in (evil1, evil2):
        assert await b.store.alerts.count_active(evil.pub, now) == 10
    # A's own alert (a named origin) still gets in.
    alert = await a.publish("named")
    assert ok(await b.pull(a)).stored == 1 and await b.has(alert)


async def test_room_comes_back_as_the_flood_expires(memnet: MemNet) -> None:
    b = await memnet.node("b")
    evil = await memnet.hostile("evil", b)
    b.syncer.quotas = QUOTAS
    now = memnet.clock.now()
    mint_alerts(evil, QUOTAS.per_peer + 10, now)
    assert ok(await b.pull(evil)).stored == QUOTAS.per_peer
    # Thirty days on, those alerts have expired: the count is read again, and room is
    # there for new ones (the cursor has moved on, so only new items are offered).
    memnet.clock.advance(31 * DAY_S + QUOTA_RECOUNT_S)
    later = memnet.clock.now()
    mint_alerts(evil, 20, later)
    assert ok(await b.pull(evil)).stored == 20


async def test_retractions_obey_the_accept_policy_and_the_block_list(memnet: MemNet) -> None:
    b = await memnet.node("b")
    direct = await memnet.hostile("direct", b, accept="direct")
    relay = await memnet.hostile("relay", b)
    blocked = nacl.signing.SigningKey.generate()
    await b.store.peers.block_origin(bytes(blocked.verify_key), memnet.clock.now())
    now = memnet.clock.now()
    stranger = nacl.signing.SigningKey.generate()
    # A peer accepted as "direct" may retract only its own alerts ...
    direct.serve(retraction_by(stranger, os.urandom(32), now), hops=1)
    direct.serve(retraction_by(direct.key, os.urandom(32), now))
    result = ok(await b.pull(direct))
    assert (result.stored, result.refused, result.refusal_code) == (1, 1, "not_accepted")
    # ... and nobody brings a blocked origin's retraction.
    relay.serve(retraction_by(blocked, os.urandom(32), now), hops=1)
    result = ok(await b.pull(relay))
    assert (result.stored, result.refused, result.refusal_code) == (0, 1, "blocked_origin")
