"""What one step of a propagation costs a node (issue 17, item 2): propagation over
100 nodes slowed about fourfold when the writes made on every request and every pull
(the replay guard's nonce, a peer's progress and refusal counts) each took one hop
to the database thread per statement, five for an unsynced write, and a pull poked
its other peers only after recording its refusal counts.

With every node in one process (the propagation benchmark) or a busy node, each hop
is a thread switch and a wake-up of the event loop, paid on every step of every
alert's trip; the counts here are exact, so the tests need no timing. On the
in-memory network with the fake clock and real SQLite stores."""

from __future__ import annotations

from collections import Counter
from typing import Any

from protocol import feed
from tests.dbcalls import count_calls
from tests.federation.memnet import MemNet, MemNode


def count_hops(node: MemNode) -> Counter[str]:
    """Count every call ``node``'s store makes on its database thread."""
    return count_calls(node.store.db)


async def test_a_served_request_takes_no_database_hop(memnet: MemNet) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    poke = feed.encode_poke(feed.Poke())
    await b.transport.post(await b.peer(a), "/poke", poke, 64)  # A reads its journal once
    nonces = await a.store.db.fetchone("SELECT count(*) FROM request_nonces")
    hops = count_hops(a)
    await b.transport.post(await b.peer(a), "/poke", poke, 64)
    # The caller's nonce is one quick write, on the event loop's thread (the database
    # thread is idle); its row with its previous keys is held in memory
    # (node/store/peer_rows.py). Before: two reads and five statements for the nonce
    # (7), then one read and one write (2), then the nonce's write (1).
    assert hops["all"] == 0
    after = await a.store.db.fetchone("SELECT count(*) FROM request_nonces")
    assert nonces is not None and after is not None and after[0] == nonces[0] + 1


async def test_a_relay_step_takes_few_database_hops(memnet: MemNet) -> None:
    """B pulls one new alert from A: A serves /changes and /bodies, B stores it."""
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    await b.transport.post(await b.peer(a), "/poke", feed.encode_poke(feed.Poke()), 64)
    alert_id = await a.publish("one step")
    peer = await b.peer(a)
    at_a, at_b = count_hops(a), count_hops(b)
    assert (await b.syncer.pull(peer)).stored == 1
    # A, per request: the caller's nonce, a quick write (the caller and the feed
    # epoch are held in memory). /changes reads the head and the feed, /bodies the
    # rows and the envelopes, all on the loop (the database thread is idle); /changes
    # then takes what is unsynced (that nonce) to the disk, one synced write, before
    # it answers with positions. Before: 21, then 11, then 7 with every read on the
    # thread, then 2 (a nonce each).
    assert at_a["all"] == 1
    # B: the cursor (1, synced), the refusal counts (1). The quota counts (below
    # QUICK_KEYS), its peer, which ids it knows and the origin's trust are read on the
    # loop; the batch (BEGIN, its rows and COMMIT) is a quick write. Before: 18, then
    # 13 with every read on the thread, then 7 with the batch in three calls, then 5
    # with the batch and the quota counts on the thread.
    assert at_b["all"] == 2
    assert await b.has(alert_id)


async def test_a_pull_pokes_the_other_peers_before_recording_refusals(memnet: MemNet) -> None:
    """The poke to the next peers is the next step of the propagation; the refusal
    counts are for an admin to read and wait until it is sent."""
    a, b, c = [await memnet.node(n) for n in "abc"]
    await memnet.pair(a, b)
    await memnet.pair(b, c)
    await a.publish("relayed")
    order: list[str] = []
    record = b.store.peers.record_refusals
    poke_all = b.syncer.poke_all

    async def recorded(*args: Any) -> None:
        order.append("refusals recorded")
        await record(*args)

    def poked(exclude: bytes | None = None, news: Any = None) -> None:
        order.append("peers poked")
        poke_all(exclude, news)

    b.store.peers.record_refusals = recorded  # type: ignore[method-assign]
    b.syncer.poke_all = poked  # type: ignore[method-assign]
    assert (await b.pull(a)).stored == 1
    assert order == ["peers poked", "refusals recorded"]


async def test_a_pull_after_a_clean_pull_writes_no_refusal_counts(memnet: MemNet) -> None:
    """Most pulls of a propagation find only what the node holds: the refusal counts
    they would record are the ones already there, so nothing is written."""
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    await a.publish("one")
    peer = await b.peer(a)
    assert (await b.syncer.pull(peer)).stored == 1
    await a.publish("two")
    hops = count_hops(b)
    assert (await b.syncer.pull(peer)).stored == 1
    # The second pull stores: the write of the counts is skipped already, the
    # origin's count and the batch are quick (a read and a write on the loop); the
    # cursor is one call (synced). Three before, with the batch in one call.
    assert hops["all"] == 1
    hops.clear()
    result = await b.syncer.pull(peer)
    assert result.stored == 0 and result.refused == 0
    # The cursor (1; its peer is read on the loop); no refusal counts (one more before).
    assert hops["all"] == 1
    row = await b.store.db.fetchone("SELECT last_pull_refused FROM peers WHERE key = ?", (a.pub,))
    assert row is not None and row[0] == 0


async def test_a_named_pull_pokes_the_other_peers_before_saving_its_progress(
    memnet: MemNet,
) -> None:
    """A pull of what a poke named writes its batch without waiting for the disk; the
    progress it saves after is a synced write that takes the batch with it. The pokes
    to the next peers go first: their pulls fetch by id and need no feed position."""
    a, b, c = [await memnet.node(n) for n in "abc"]
    await memnet.pair(a, b)
    await memnet.pair(b, c)
    assert (await b.pull(a)).error is None  # B has read A's feed once (its epoch)
    alert_id = await a.publish("relayed")
    order: list[str] = []
    save = b.store.peers.save_progress
    poke_all = b.syncer.poke_all

    async def saved(*args: Any, **kwargs: Any) -> None:
        order.append("progress saved")
        await save(*args, **kwargs)

    def poked(exclude: bytes | None = None, news: Any = None) -> None:
        order.append("peers poked")
        poke_all(exclude, news)

    b.store.peers.save_progress = saved  # type: ignore[method-assign]
    b.syncer.poke_all = poked  # type: ignore[method-assign]
    news = [feed.IdEntry("a", alert_id, 0)]
    result = await b.syncer.pull(await b.peer(a), news)
    assert result.stored == 1 and result.pages == 0
    assert order == ["peers poked", "progress saved"]
    row = await b.store.db.fetchone("SELECT items_received FROM peers WHERE key = ?", (a.pub,))
    assert row is not None and row[0] == 1


async def test_a_feed_position_is_served_only_once_on_the_disk(memnet: MemNet) -> None:
    """B stores what A's poke named without waiting for the disk; when it answers C's
    /changes, it takes what it read there before it answers."""
    a, b, c = [await memnet.node(n) for n in "abc"]
    await memnet.pair(a, b)
    await memnet.pair(b, c)
    assert (await b.pull(a)).error is None  # B has read A's feed once (its epoch)
    alert_id = await a.publish("relayed")
    result = await b.syncer.pull(await b.peer(a), [feed.IdEntry("a", alert_id, 0)])
    assert result.stored == 1 and result.pages == 0
    assert b.store.db.unsynced
    order: list[str] = []
    read, flush = b.store.alerts.feed, b.store.alerts.flush

    async def feed_read(*args: Any) -> Any:
        order.append("feed read")
        return await read(*args)

    async def flushed() -> None:
        order.append("flushed")
        await flush()

    b.store.alerts.feed = feed_read  # type: ignore[method-assign]
    b.store.alerts.flush = flushed  # type: ignore[method-assign]
    hops = count_hops(b)
    assert (await c.pull(b)).stored == 1
    assert order[:2] == ["feed read", "flushed"]
    # The synced write, on the thread (and what came while it held the thread).
    assert hops["all"] >= 1
    row = await b.store.db.fetchone("SELECT value FROM meta WHERE name = 'flushed'")
    assert row is not None and row[0] >= 1
    assert await c.has(alert_id)
