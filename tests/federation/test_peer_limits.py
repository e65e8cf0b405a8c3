"""Limits that bind to the trust-list entry, not to a key (issue 12, item 3), on the
in-memory network and the fake clock: a rotation neither resets a peer's rate limit
nor its replay window; a peer's own rotations are limited; one peer filling its
replay window never fails another peer's request; the window survives a restart.
"""

from __future__ import annotations

import asyncio
import secrets

import nacl.signing

from federation.clock import FakeClock
from federation.errors import PeerRefused
from federation.memory import MemoryTransport
from federation.quota import MIN_ROTATION_INTERVAL_S, PeerRateLimiter
from federation.replay import ReplayGuard
from federation.server import FederationServer, ServerState
from protocol import feed
from protocol.request import REQUEST_HEADER, REQUEST_SKEW_S, sign_request
from protocol.rotation import sign_rotation
from tests.federation.memnet import MemNet, MemNode

POKE = feed.encode_poke(feed.Poke(0))
POKE_PATH = "/fed/v2/poke"
CHANGES = feed.encode_changes_request(feed.ChangesRequest(0, 10))


def signed(signer: nacl.signing.SigningKey, server: MemNode, body: bytes, ts: int) -> str:
    return sign_request(signer, "POST", POKE_PATH, body, server.pub, ts, secrets.token_bytes(16))


async def deliver(server: MemNode, header: str, body: bytes = POKE) -> int:
    handler = server.net.network.servers[server.addr]
    return (await handler.handle("POST", POKE_PATH, {REQUEST_HEADER: header}, body)).status


async def test_a_peer_rotating_300_times_a_minute_gets_no_more_than_its_rate(
    memnet: MemNet, clock: FakeClock
) -> None:
    """The attack: spend the bucket, rotate onto a fresh key, spend again. Even with
    the rotation limit lifted (every rotation taken), the bucket is the entry's."""
    a, flood = await memnet.node("a"), await memnet.node("flood")
    await memnet.pair(a, flood)
    a.state.min_rotation_interval_s = 0
    # Smaller than the defaults (PEER_REQUESTS_PER_S, PEER_REQUEST_BURST) to keep the
    # test quick; still enough to take a rotation every 0.2 s.
    rate, burst = 6.0, 30
    a.state.limiter = PeerRateLimiter(rate_per_s=rate, burst=burst)
    target = await flood.peer(a)
    key, served, rotations = flood.key, 0, 0
    start = clock.monotonic()
    while clock.monotonic() - start < 60:
        transport = MemoryTransport(key, clock, memnet.network, flood.addr)
        new = nacl.signing.SigningKey.generate()
        try:
            statement = sign_rotation(key, new, clock.now()).envelope.to_bytes()
            await transport.post(target, "/rotate", statement, 1024)
            key, rotations, served = new, rotations + 1, served + 1
            transport = MemoryTransport(key, clock, memnet.network, flood.addr)
        except PeerRefused as exc:
            assert exc.code == "rate_limited", exc.code
        while True:
            try:
                await transport.post(target, "/changes", CHANGES, feed.MAX_CHANGES_RESPONSE_BYTES)
                served += 1
            except PeerRefused as exc:
                assert exc.code == "rate_limited", exc.code
                break
        clock.advance(0.2)  # five rotations a second: 300 in the minute
    print(f"rotations taken: {rotations}, requests served: {served}")
    assert rotations >= 290  # the bucket refills enough to take nearly every rotation
    assert served <= burst + rate * 60 + 1
    # The trust list still has one entry for it, under its latest key.
    entry = await a.store.peers.get(bytes(key.verify_key))
    assert entry is not None and len(await a.store.peers.list()) == 1


async def test_rotations_beyond_the_limit_are_refused(memnet: MemNet, clock: FakeClock) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    target = await b.peer(a)
    first, second = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()

    async def rotate(old: nacl.signing.SigningKey, new: nacl.signing.SigningKey) -> None:
        statement = sign_rotation(old, new, clock.now()).envelope.to_bytes()
        await MemoryTransport(old, clock, memnet.network, b.addr).post(
            target, "/rotate", statement, 1024
        )

    await rotate(b.key, first)
    clock.advance(MIN_ROTATION_INTERVAL_S - 3600)
    try:
        await rotate(first, second)
        raise AssertionError("a second rotation within the interval was taken")
    except PeerRefused as exc:
        assert (exc.status, exc.code) == (429, "rotation_too_soon")
        assert exc.retryable and exc.retry_after == 3600
    # Nothing moved: the peer is still known by the first new key only.
    assert await a.store.peers.get(bytes(first.verify_key)) is not None
    assert await a.store.peers.get(bytes(second.verify_key)) is None
    clock.advance(3600)
    await rotate(first, second)
    moved = await a.store.peers.get(bytes(second.verify_key))
    assert moved is not None and moved.previous == (b.pub, bytes(first.verify_key))


async def test_two_rotations_racing_from_one_peer_move_it_once(
    memnet: MemNet, clock: FakeClock
) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    target = await b.peer(a)
    news = [nacl.signing.SigningKey.generate() for _ in range(2)]
    transport = MemoryTransport(b.key, clock, memnet.network, b.addr)
    statements = [sign_rotation(b.key, n, clock.now()).envelope.to_bytes() for n in news]
    results = await asyncio.gather(
        *(transport.post(target, "/rotate", s, 1024) for s in statements),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], PeerRefused)
    assert refused[0].code == "rotation_too_soon"
    assert len(await a.store.peers.list()) == 1


async def test_a_full_replay_window_fails_only_its_own_peer(
    memnet: MemNet, clock: FakeClock
) -> None:
    """The attack: fill the window with requests dated as far ahead as allowed, then
    an honest peer pokes. Before, one window was shared and filled up, and the honest
    poke was refused as a replay (401)."""
    a, stuffer, honest = [await memnet.node(n) for n in ("a", "stuffer", "honest")]
    await memnet.pair(a, stuffer)
    await memnet.pair(a, honest)
    a.state.nonces = ReplayGuard(a.store.nonces, max_per_peer=64)
    ahead = clock.now() + REQUEST_SKEW_S
    statuses = [await deliver(a, signed(stuffer.key, a, POKE, ahead)) for _ in range(200)]
    # Its own window is full of requests dated ahead: making room for one more would
    # forget one no older, so the rest are refused, to that peer only.
    assert statuses == [204] * 64 + [401] * 136
    assert await deliver(a, signed(honest.key, a, POKE, clock.now())) == 204
    assert len(a.state.nonces.window((await a.peer(stuffer)).entry_id)) == 64
    # Nor does a future-dated entry outstay a window from when it came.
    clock.advance(REQUEST_SKEW_S + 1)
    assert await deliver(a, signed(honest.key, a, POKE, clock.now())) == 204
    window = a.state.nonces.window((await a.peer(stuffer)).entry_id)
    window.seen(secrets.token_bytes(16), clock.now() + REQUEST_SKEW_S, clock.now())
    assert len(window) == 1


async def test_a_request_replayed_after_a_restart_is_refused(
    memnet: MemNet, clock: FakeClock
) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    captured = [signed(b.key, a, POKE, clock.now() + d) for d in (0, REQUEST_SKEW_S)]
    for header in captured:
        assert await deliver(a, header) == 204
        assert await deliver(a, header) == 401
    clock.advance(REQUEST_SKEW_S // 2)

    def restart() -> None:
        state = a.state
        fresh = ServerState(
            key=state.key, store=state.store, peers=state.peers, clock=clock,
            on_poke=state.on_poke, locked=state.locked, nonces=ReplayGuard(a.store.nonces),
        )  # fmt: skip
        a.state = fresh
        memnet.network.attach(a.addr, FederationServer(fresh))

    restart()
    for header in captured:
        assert await deliver(a, header) == 401
    # The one signed a window ahead can still pass the clock check a window later:
    # its entry is gone from the new window too, but the floor it left refuses it.
    clock.advance(REQUEST_SKEW_S)
    restart()
    assert await deliver(a, captured[1]) == 401
    assert await deliver(a, signed(b.key, a, POKE, clock.now())) == 204


async def test_the_same_request_twice_at_once_is_taken_once(
    memnet: MemNet, clock: FakeClock
) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    header = signed(b.key, a, POKE, clock.now())
    statuses = await asyncio.gather(*(deliver(a, header) for _ in range(5)))
    assert sorted(statuses) == [204, 401, 401, 401, 401]


async def test_a_burst_of_requests_shares_its_writes(memnet: MemNet, clock: FakeClock) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    writes: list[int] = []
    journal = a.store.nonces

    class Counting:
        async def load_nonces(self, since: int) -> list[tuple[int, bytes, int, int]]:
            return await journal.load_nonces(since)

        async def save_nonces(self, rows: list[tuple[int, bytes, int, int]], before: int) -> None:
            writes.append(len(rows))
            await journal.save_nonces(rows, before)

    a.state.nonces = ReplayGuard(Counting())
    headers = [signed(b.key, a, POKE, clock.now()) for _ in range(40)]
    statuses = await asyncio.gather(*(deliver(a, h) for h in headers))
    assert statuses == [204] * 40
    assert sum(writes) == 40 and len(writes) < 40
