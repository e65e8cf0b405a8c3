"""Completeness signals of the feed on the in-memory network: what a bodies response
leaves out is re-asked (size_cut) or recorded and never re-asked (gone, not_yours),
and a cursor beyond the server's head falls back to the id diff."""

from __future__ import annotations

from federation.ingest import PullResult
from protocol import feed
from tests.federation.memnet import MemNet


def ok(result: PullResult) -> PullResult:
    assert result.error is None, result.error
    return result


def bodies_requests(memnet: MemNet, source: str) -> int:
    return sum(d.path.endswith("/bodies") and d.source == source for d in memnet.network.log)


async def test_size_cut_items_are_fetched_by_the_next_request(memnet: MemNet) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    ids = [await a.publish(f"alert {i}") for i in range(10)]
    # Room for about two envelopes per response beyond the reserve for ``left``.
    a.state.bodies_budget_bytes = feed.LEFT_RESERVE_BYTES + 2500
    seen: list[bytes] = []
    b.syncer.observer = lambda _peer, item: seen.append(item)
    result = ok(await b.pull(a))
    assert result.stored == 10 and result.size_cut > 0
    assert sorted(seen) == sorted(ids), "each body fetched exactly once"
    assert bodies_requests(memnet, b.addr) > 1
    for alert_id in ids:
        assert await b.has(alert_id)


async def test_gone_items_are_recorded_and_not_asked_again(memnet: MemNet) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    kept = await a.publish("kept")
    doomed = await a.publish("retracted between the listing and the fetch")
    retracted = False

    async def retract_before_bodies(path: str) -> None:
        nonlocal retracted
        if path.endswith("/bodies") and not retracted:
            retracted = True
            await a.retract(doomed)

    memnet.network.link(b.addr, a.addr).before = retract_before_bodies
    result = ok(await b.pull(a))
    assert retracted and result.gone == 1 and result.stored == 1
    assert bodies_requests(memnet, b.addr) == 1, "gone is not asked for again"
    assert await b.has(kept) and not await b.has(doomed)
    # The next pull brings the retraction from the feed and never asks for the alert.
    memnet.network.link(b.addr, a.addr).before = None
    seen: list[bytes] = []
    b.syncer.observer = lambda _peer, item: seen.append(item)
    ok(await b.pull(a))
    assert doomed not in seen and len(seen) == 1


async def test_not_yours_is_said_for_what_policy_keeps_back(memnet: MemNet) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    red = await a.publish("never leaves", tlp="RED", hops=0)
    green = await a.publish("shared")
    request = feed.BodiesRequest(ids=(red, green, bytes(32)))
    raw = await b.transport.post(
        await b.peer(a), "/bodies", feed.encode_bodies_request(request), 1 << 20
    )
    response = feed.decode_bodies_response(raw)
    assert len(response.items) == 1
    assert set(response.left) == {
        feed.LeftOut(red, feed.LEFT_NOT_YOURS),
        feed.LeftOut(bytes(32), feed.LEFT_GONE),
    }


async def test_a_cursor_beyond_the_head_falls_back_to_the_id_diff(memnet: MemNet) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    first = await a.publish("first")
    ok(await b.pull(a))
    second = await a.publish("second")
    # B's cursor is somehow past A's head in A's epoch (a bug, or A lost its tail).
    epoch = await a.store.alerts.epoch()
    await b.store.peers.save_progress(
        a.pub, epoch=epoch, cursor=10_000, received=0, lag=0, now=memnet.clock.now()
    )
    result = ok(await b.pull(a))
    assert result.stored == 1 and await b.has(second) and await b.has(first)
    assert any(d.path.endswith("/ids") for d in memnet.network.log)
    moved = await b.peer(a)
    assert moved.cursor == await a.store.alerts.last_pos()
