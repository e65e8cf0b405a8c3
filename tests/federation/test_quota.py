"""A flooding peer is held by rate limits and quotas; honest peers still sync."""

from __future__ import annotations

from federation.quota import PeerRateLimiter, TokenBucket
from protocol import feed
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually, has_alert, pair
from tests.federation.test_requests import post, signed


def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate_per_s=2, burst=3, tokens=3, updated=0)
    assert [bucket.allow(0) for _ in range(4)] == [True, True, True, False]
    assert bucket.allow(0.5) and not bucket.allow(0.5)
    assert bucket.allow(10) and bucket.tokens <= 3


def test_limiter_is_per_peer_and_forgets_removed_peers() -> None:
    limiter = PeerRateLimiter(rate_per_s=0, burst=2)
    assert limiter.allow(b"a", 0) and limiter.allow(b"a", 0) and not limiter.allow(b"a", 0)
    assert limiter.allow(b"b", 0)
    limiter.forget({b"b"})
    assert limiter.allow(b"a", 0)


async def test_flooding_peer_gets_429_while_honest_peer_syncs(make_node: NodeFactory) -> None:
    a = await make_node("A")
    flood = await make_node("Flood")
    honest = await make_node("Honest")
    await pair(a, flood)
    await pair(a, honest)
    a.unlocked().trust.server_state.limiter = PeerRateLimiter(rate_per_s=1, burst=5)
    path = "/fed/v1/changes"
    body = feed.encode_changes_request(feed.ChangesRequest(0, 10))
    statuses = [
        (await post(a, path, body, signed(flood.unlocked().keys.signing, a, path, body)))[0]
        for _ in range(12)
    ]
    assert statuses.count(429) >= 5 and statuses[0] == 200
    alert_id = await a.unlocked().alerts.publish(draft(1))
    await eventually(lambda: has_alert(honest, alert_id))


async def test_per_origin_quota_bounds_what_a_peer_can_make_us_store(
    make_node: NodeFactory,
) -> None:
    a = await make_node("A")
    b = await make_node("B")
    await pair(a, b)
    b.unlocked().trust.syncer.max_per_origin = 3
    ids = [await a.unlocked().alerts.publish(draft(i)) for i in range(6)]
    await b.unlocked().trust.sync_now()
    await eventually(lambda: has_alert(b, ids[2]))
    await b.unlocked().trust.sync_now()
    stored = [await has_alert(b, i) for i in ids]
    assert stored == [True, True, True, False, False, False]
