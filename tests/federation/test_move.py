"""A node moves to new addresses (in-memory network, fake clock): its peers apply the
signed move statement and keep syncing without pairing again; a replayed or older
move, a move for another key, and a move from a node not on the trust list are
refused and change nothing."""

from __future__ import annotations

import pytest

from federation.errors import PeerRefused
from federation.memory import address
from node.network.moves import owe_move
from protocol.move import sign_move
from tests.federation.memnet import MemNet, MemNode

NEW_URL = "https://a-new.example.org:8443"
NEW_HOST = "a-new.example.org"


async def move(a: MemNode, url: str = NEW_URL, last_at: int = 0) -> int:
    """What 'alertnode move' does on A: owe the statement, deliver what is due."""
    at = await owe_move(a.store.peers, a.key, (url,), a.net.clock.now(), last_at)
    await a.courier.deliver_due()
    return at


async def test_peers_follow_a_move_and_keep_syncing_without_pairing_again(
    memnet: MemNet,
) -> None:
    a, b = await memnet.node("A"), await memnet.node("B")
    await memnet.pair(a, b)
    first = await a.publish("before the move")
    assert (await b.pull(a)).stored == 1
    pins_before = (await b.peer(a)).pins
    # A's host is taken down; A restores its backup behind a new address.
    server = memnet.network.servers[address("A")]
    memnet.network.detach(address("A"))
    memnet.network.attach(address(NEW_HOST), server)
    assert (await b.pull(a)).error_code == "unreachable"
    await move(a)
    peer = await b.peer(a)
    assert peer.urls == (NEW_URL,)
    assert peer.pins == pins_before  # pins change only by a pin statement
    assert peer.accept == "relay" and peer.share  # the policy is kept
    second = await a.publish("after the move")
    result = await b.pull(a)
    assert result.stored == 1  # the cursor was kept: only what is new
    assert await b.has(first) and await b.has(second)
    assert await a.store.peers.owed_rotations() == []  # delivered, nothing owed


async def test_a_replayed_or_older_move_is_refused(memnet: MemNet) -> None:
    a, b = await memnet.node("A"), await memnet.node("B")
    await memnet.pair(a, b)
    now = memnet.clock.now()
    older = sign_move(a.key, ("https://old-seized.example.org",), now - 10).envelope.to_bytes()
    newer = sign_move(a.key, (NEW_URL,), now).envelope.to_bytes()
    peer_b = await a.peer(b)
    assert await a.transport.post(peer_b, "/move", newer, 1024) == b""
    for replay in (newer, older):
        with pytest.raises(PeerRefused) as refused:
            await a.transport.post(peer_b, "/move", replay, 1024)
        assert refused.value.code == "stale_statement"
    assert (await b.peer(a)).urls == (NEW_URL,)


async def test_a_move_for_another_key_or_from_an_unknown_node_is_refused(
    memnet: MemNet,
) -> None:
    a, b, c = await memnet.node("A"), await memnet.node("B"), await memnet.node("C")
    await memnet.pair(a, b)
    await memnet.add_peer(c, b)  # C knows B; B does not trust C
    now = memnet.clock.now()
    # A passes off a statement signed by C's key: not its own.
    for_c = sign_move(c.key, ("https://evil.example.org",), now).envelope.to_bytes()
    with pytest.raises(PeerRefused) as refused:
        await a.transport.post(await a.peer(b), "/move", for_c, 1024)
    assert refused.value.code == "not_own_key"
    # C states its own move to B, which does not trust C: not even heard.
    with pytest.raises(PeerRefused):
        await c.transport.post(await c.peer(b), "/move", for_c, 1024)
    assert [p.name for p in await b.store.peers.list()] == ["A"]
    assert (await b.peer(a)).urls == (address("A"),)


async def test_a_move_waits_in_the_outbox_for_a_peer_that_is_down(memnet: MemNet) -> None:
    a, b = await memnet.node("A"), await memnet.node("B")
    await memnet.pair(a, b)
    memnet.network.link(a.addr, b.addr).cut = True
    await move(a)
    assert (await b.peer(a)).urls == (address("A"),)
    assert len(await a.store.peers.owed_rotations()) == 1
    memnet.network.link(a.addr, b.addr).cut = False
    memnet.clock.advance(3600)
    await a.courier.deliver_due()
    assert (await b.peer(a)).urls == (NEW_URL,)
