"""Members before a catch-up (issue 17): while a node stores a peer's bulk, a member's
check neither waits for a write nor shares the cores with the bulk's verification.

- A check counts itself for the monthly totals without waiting for that count's write
  (``HeldCount``): during a catch-up a write waits for a batch's transaction.
- The slow-hash pool says when no member's slow hash runs (``SlowHashPool.quiet``),
  waiting at most MAX_QUIET_WAIT_S; a node's verifier waits for it before each batch
  large enough for its worker processes, and a batch it checks before those are up
  is checked in a thread, not on the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence

import pytest

from federation import verifier as verifier_mod
from federation.clock import FakeClock
from federation.verifier import Verifier
from node.keys.slowhash import MAX_QUIET_WAIT_S, SlowHashPool
from node.service import CHECKS_PER_FLUSH
from node.store.totals import HeldCount, TotalsStore, month_of
from tests.conftest import NodeFactory

NOW = 1_790_000_000


async def _until(started: threading.Event) -> None:
    """Wait (real time, bounded) until a thread has begun what it was given."""
    for _ in range(5000):
        if started.is_set():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the thread did not start its work")


async def test_a_check_does_not_wait_for_the_write_of_its_count(make_node: NodeFactory) -> None:
    node = await make_node()
    store, service = node.unlocked().store, node.unlocked().alerts
    release, started = threading.Event(), threading.Event()

    def held_write(conn: sqlite3.Connection) -> None:
        started.set()
        release.wait(10)

    # A catch-up's batch holds the database thread.
    writing = asyncio.ensure_future(store.db.write(held_write))
    try:
        await _until(started)
        for n in range(CHECKS_PER_FLUSH + 1):
            # The check that fills the count starts its write and does not wait for it.
            result = await asyncio.wait_for(service.check("phone", f"07700 900{n:03d}"), 5)
            assert result["matches"] == 0
        assert not writing.done()
    finally:
        release.set()
        await writing
    await service.flush_counts()
    month = month_of(node.clock.now())
    assert (await store.totals.months(month, month))[month]["checks"] == CHECKS_PER_FLUSH + 1


class FlakyTotals:
    """A totals store whose first ``fail`` writes fail."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.written: list[tuple[str, int, int]] = []

    async def bump(self, counter: str, now: int, n: int = 1) -> None:
        if self.fail:
            self.fail -= 1
            raise sqlite3.OperationalError("disk I/O error")
        self.written.append((counter, now, n))


async def test_a_count_whose_write_failed_is_written_with_the_next() -> None:
    totals = FlakyTotals(fail=1)
    held = HeldCount(totals, "checks", every=3)  # type: ignore[arg-type]
    for _ in range(3):
        held.add(NOW)
    await asyncio.sleep(0)  # the write it started runs, and fails
    await held.flush()  # waits for that write, then writes what it left held
    assert totals.written == [("checks", NOW, 3)] and held.held == 0
    held.add(NOW)
    held.add(NOW + 40 * 86_400)  # another month: a row of its own
    await held.flush()
    assert totals.written[1:] == [("checks", NOW, 1), ("checks", NOW + 40 * 86_400, 1)]


def test_a_held_count_names_a_known_counter() -> None:
    with pytest.raises(ValueError):
        HeldCount(TotalsStore(None), "visits", every=3)  # type: ignore[arg-type]


@pytest.fixture
def hashes() -> SlowHashPool:
    return SlowHashPool(clock=FakeClock(NOW))


async def test_quiet_returns_at_once_when_no_slow_hash_runs(hashes: SlowHashPool) -> None:
    assert not hashes.busy
    await asyncio.wait_for(hashes.quiet(), 1)
    hashes.close()


async def test_quiet_waits_for_a_members_slow_hash(hashes: SlowHashPool) -> None:
    release, started = threading.Event(), threading.Event()

    def slow_hash() -> str:
        started.set()
        release.wait(10)
        return "hashed"

    hashing = asyncio.ensure_future(hashes.run(slow_hash))
    await _until(started)
    assert hashes.busy
    quiet = asyncio.ensure_future(hashes.quiet())
    for _ in range(20):
        await asyncio.sleep(0)
    assert not quiet.done()
    release.set()
    assert await hashing == "hashed"
    await asyncio.wait_for(quiet, 5)
    assert not hashes.busy
    hashes.close()


async def test_quiet_waits_no_longer_than_its_bound() -> None:
    clock = FakeClock(NOW)
    hashes = SlowHashPool(clock=clock)
    release, started = threading.Event(), threading.Event()

    def endless() -> None:
        started.set()
        release.wait(10)

    hashing = asyncio.ensure_future(hashes.run(endless))
    try:
        await _until(started)
        quiet = asyncio.ensure_future(hashes.quiet())
        await clock.sleeping()
        clock.advance(MAX_QUIET_WAIT_S - 0.01)
        await asyncio.sleep(0)
        assert not quiet.done()
        clock.advance(0.01)
        await asyncio.wait_for(quiet, 5)  # a member's steady checks do not stop a catch-up
        assert hashes.busy
    finally:
        release.set()
        await hashing
        hashes.close()


async def test_a_large_batch_waits_its_turn_and_a_small_one_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    turn = asyncio.Event()
    asked: list[int] = []

    async def wait_turn() -> None:
        asked.append(1)
        await turn.wait()

    verifier = Verifier(workers=2, min_items=4, wait_turn=wait_turn)
    seen: list[str] = []
    real = verifier_mod.check_items

    def recording(items: Sequence[bytes], now: int) -> list[verifier_mod.Checked]:
        seen.append(threading.current_thread().name)
        return real(items, now)

    # Only the checks made in this process are recorded (a worker imports its own).
    monkeypatch.setattr(verifier_mod, "check_items", recording)
    try:
        small = await asyncio.wait_for(verifier.check([b"x"] * 3, NOW), 5)
        assert len(small) == 3 and asked == [] and seen == ["MainThread"]
        large = asyncio.ensure_future(verifier.check([b"x"] * 8, NOW))
        for _ in range(20):
            await asyncio.sleep(0)
        assert asked == [1] and not large.done()
        turn.set()
        checked = await asyncio.wait_for(large, 30)
        # Every item came back refused (they are not envelopes), none lost.
        assert [verdict for _, verdict in checked] == [small[0][1]] * 8
        # The workers were still starting: the batch was checked in a thread.
        assert len(seen) == 2 and seen[1] != "MainThread"
    finally:
        verifier.close()


async def test_a_nodes_catch_up_waits_for_its_members_slow_hashes(make_node: NodeFactory) -> None:
    node = await make_node()
    verifier = node.unlocked().trust.verifier
    assert verifier.wait_turn is not None
    release, started = threading.Event(), threading.Event()

    def passphrase_hash() -> None:
        started.set()
        release.wait(10)

    hashing = asyncio.ensure_future(node.hashes.run(passphrase_hash))
    try:
        await _until(started)
        turn = asyncio.ensure_future(verifier.wait_turn())
        for _ in range(20):
            await asyncio.sleep(0)
        assert not turn.done()
    finally:
        release.set()
        await hashing
    await asyncio.wait_for(turn, 5)
