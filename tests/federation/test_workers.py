"""The sync workers on the in-memory network and a fake clock: backoff, jitter,
per-peer isolation, a hanging peer, a bounded stop and a crashing worker that
restarts. Deterministic: time moves only when the test moves it."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence

import pytest

from federation.clock import FakeClock
from federation.sync import Syncer
from federation.transport import REQUEST_TIMEOUT_S
from federation.trust import Peer
from federation.workers import (
    FIRST_BACKOFF_S,
    FIRST_RESTART_S,
    MAX_BACKOFF_S,
    STOP_TIMEOUT_S,
    SYNC_INTERVAL_S,
    SYNC_JITTER,
)
from tests.federation.memnet import MemNet, MemNode, until

LO, HI = 1 - SYNC_JITTER, 1 + SYNC_JITTER


def test_backoff_grows_to_a_cap_with_jitter() -> None:
    syncer = Syncer.__new__(Syncer)
    syncer._interval_s = 300.0
    syncer._rng = random.Random(1)
    assert 300 * LO <= syncer._delay(0) <= 300 * HI
    assert FIRST_BACKOFF_S * LO <= syncer._delay(1) <= FIRST_BACKOFF_S * HI
    assert 2 * FIRST_BACKOFF_S * LO <= syncer._delay(2) <= 2 * FIRST_BACKOFF_S * HI
    assert syncer._delay(40) <= MAX_BACKOFF_S * HI
    delays = {round(syncer._delay(0), 3) for _ in range(20)}
    assert len(delays) > 1, "the periodic pull is jittered"


async def one_way(net: MemNet) -> tuple[MemNode, MemNode]:
    """A pulls from B; B knows A (so it serves it), but only A runs a worker for B."""
    a, b = await net.node("a"), await net.node("b")
    await b.store.peers.add(
        a.pub, "a", (a.addr,), (), accept="relay", share=True, proxy=None, now=net.clock.now()
    )
    await net.add_peer(a, b)
    return a, b


async def test_failing_peer_backs_off_doubling_to_the_cap(
    livenet: MemNet, clock: FakeClock
) -> None:
    a, b = await one_way(livenet)
    livenet.network.link(a.addr, b.addr).cut = True
    expected = [min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2.0**n) for n in range(12)]
    seen: list[float] = []
    for base in expected:
        (delay,) = await clock.sleeping(1)
        assert base * LO <= delay <= base * HI, (base, delay)
        seen.append(delay)
        await clock.elapse(delay)
    await clock.sleeping(1)  # the last attempt is over (its store writes run in a thread)
    assert a.transport.round_trips == len(expected) + 1, "one attempt per backoff step"
    assert seen[-1] <= MAX_BACKOFF_S * HI and seen[-1] >= MAX_BACKOFF_S * LO
    assert len({round(d / e, 6) for d, e in zip(seen, expected, strict=True)}) > 1, "jittered"
    # Healed: the next attempt succeeds and the worker returns to the normal interval.
    livenet.network.link(a.addr, b.addr).cut = False
    (delay,) = await clock.sleeping(1)
    await clock.elapse(delay)
    await until(lambda: _true(any(d > REQUEST_TIMEOUT_S for d in clock.pending())))
    (delay,) = clock.pending()
    assert SYNC_INTERVAL_S * LO <= delay <= SYNC_INTERVAL_S * HI


async def test_hanging_peer_does_not_delay_another(livenet: MemNet, clock: FakeClock) -> None:
    a, b, c = [await livenet.node(n) for n in "abc"]
    for ab_link in livenet.network.both(a.addr, b.addr):
        ab_link.hang = True
    await livenet.pair(a, b)
    await livenet.pair(a, c)
    hang = livenet.network.link(a.addr, b.addr)
    await until(lambda: _true(hang.hanging >= 1))
    started = clock.now()
    # C's news reaches A (poke, pull) while A's pull from B hangs, with no time passing.
    from_c = await c.publish("from c")
    await until(lambda: a.has(from_c))
    assert clock.now() == started and hang.hanging >= 1
    # And what A publishes reaches C, though A's poke to B hangs too.
    from_a = await a.publish("from a")
    await until(lambda: c.has(from_a))


async def test_hanging_pull_times_out_on_the_clock_and_retries(
    livenet: MemNet, clock: FakeClock
) -> None:
    a, b = await one_way(livenet)
    alert = await b.publish("held up")
    link = livenet.network.link(a.addr, b.addr)
    link.hang = True
    await until(lambda: _true(link.hanging == 1))
    assert REQUEST_TIMEOUT_S in await clock.sleeping(1)
    await clock.elapse(REQUEST_TIMEOUT_S)
    assert link.hanging == 0, "the request was given up"

    async def error_recorded() -> bool:
        rows = {p.key: s for p, s in await a.store.peers.list_with_stats()}
        return bool(rows[b.pub]["last_error"])

    await until(error_recorded)
    assert not await a.has(alert)
    link.hang = False
    (backoff,) = await clock.sleeping(1)
    assert FIRST_BACKOFF_S * LO <= backoff <= FIRST_BACKOFF_S * HI
    await clock.elapse(backoff)
    await until(lambda: a.has(alert))


async def test_stop_is_bounded_while_a_peer_hangs(livenet: MemNet, clock: FakeClock) -> None:
    a, b = await one_way(livenet)
    link = livenet.network.link(a.addr, b.addr)
    link.hang = True
    await until(lambda: _true(link.hanging == 1))
    # A hang that yields to cancellation: stop returns with no time passing.
    started = clock.now()
    await a.syncer.stop()
    assert clock.now() == started and link.hanging == 0


async def test_stop_gives_up_on_a_worker_that_ignores_cancellation(
    livenet: MemNet, clock: FakeClock
) -> None:
    a, b = await one_way(livenet)
    link = livenet.network.link(a.addr, b.addr)
    link.hang = link.stubborn = True
    await until(lambda: _true(link.hanging == 1))
    stuck = [t for t in asyncio.all_tasks() if t.get_name() == f"pull-{b.pub.hex()[:8]}"]
    stopping = asyncio.ensure_future(a.syncer.stop())
    await clock.sleeping(2)  # the request timeout and the stop bound
    assert STOP_TIMEOUT_S in clock.pending() and not stopping.done()
    await clock.elapse(STOP_TIMEOUT_S)
    assert stopping.done() and stopping.exception() is None
    assert link.hanging == 1, "the worker is left behind, not waited for"
    for task in stuck:
        task.cancel()
    await asyncio.wait(stuck)


class FlakyPeers:
    """A PeerStore whose ``get`` fails ``failures`` times, then delegates."""

    def __init__(self, inner: object, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    async def get(self, key: bytes) -> Peer | None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("nickname Rosa, phone 07700 900123")  # must never be logged
        return await self.inner.get(key)  # type: ignore[attr-defined, no-any-return]

    async def list(self) -> Sequence[Peer]:
        return await self.inner.list()  # type: ignore[attr-defined, no-any-return]

    async def save_progress(self, key: bytes, **kw: object) -> None:
        await self.inner.save_progress(key, **kw)  # type: ignore[attr-defined]

    async def record_error(self, key: bytes, code: str, message: str, now: int) -> None:
        await self.inner.record_error(key, code, message, now)  # type: ignore[attr-defined]

    async def record_refusals(self, key: bytes, count: int, code: str | None, now: int) -> None:
        await self.inner.record_refusals(key, count, code, now)  # type: ignore[attr-defined]

    async def accept_rotation(self, old: bytes, new: bytes, **kw: int) -> int | None:
        return await self.inner.accept_rotation(old, new, **kw)  # type: ignore[attr-defined, no-any-return]

    async def record_statement(self, *a: object, **kw: object) -> bool | None:
        return await self.inner.record_statement(*a, **kw)  # type: ignore[attr-defined, no-any-return]

    async def retired_at(self, key: bytes) -> int | None:
        return await self.inner.retired_at(key)  # type: ignore[attr-defined, no-any-return]

    async def set_pins(self, key: bytes, pins: tuple[bytes, ...], created: int) -> bool:
        return await self.inner.set_pins(key, pins, created)  # type: ignore[attr-defined, no-any-return]


async def test_crashing_worker_is_logged_and_restarts_with_backoff(
    memnet: MemNet, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = await one_way(memnet)
    alert = await b.publish("after the crashes")
    flaky = FlakyPeers(a.store.peers, failures=2)
    syncer = Syncer(a.key, a.store.alerts, flaky, a.transport, clock, _nothing)
    caplog.set_level(logging.ERROR, logger="federation.sync")
    syncer.ensure_worker(b.pub)
    try:
        (first,) = await clock.sleeping(1)
        assert first == FIRST_RESTART_S and syncer.restarts == 1
        await clock.elapse(first)
        (second,) = await clock.sleeping(1)
        assert second == 2 * FIRST_RESTART_S and syncer.restarts == 2
        await clock.elapse(second)
        await until(lambda: a.has(alert))
    finally:
        await syncer.stop()
    crashes = [r.getMessage() for r in caplog.records if "crashed" in r.getMessage()]
    assert len(crashes) == 2
    assert all(b.pub.hex()[:8] in m and "RuntimeError" in m for m in crashes)
    assert b.pub.hex() not in caplog.text and "Rosa" not in caplog.text
    assert "07700" not in caplog.text


async def _nothing(peer: Peer, news: object = None) -> None:
    return None


async def _true(value: bool) -> bool:
    return value
