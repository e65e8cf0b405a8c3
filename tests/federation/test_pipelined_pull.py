"""A pull asks for what comes next while it checks what it has (issue 17, item 1).

The next batch of bodies and the next page of the changes feed are asked for before
the batch in hand is verified, so the serving peer works while this node verifies
and stores; the cursor still moves only past stored batches, and a failed pull
still counts what it stored. On the in-memory network with the fake clock, with
small pages and batches so a handful of alerts spans several of each."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from federation.errors import PeerUnreachable
from federation.verifier import Checked, Verifier
from protocol import feed
from tests.federation.memnet import MemNet, until


class HeldVerifier(Verifier):
    """Inline verification that holds its first batch until ``go`` is set."""

    def __init__(self) -> None:
        super().__init__(workers=0)
        self.holding = asyncio.Event()
        self.go = asyncio.Event()
        self.batches = 0

    async def check(self, items: Sequence[bytes], now: int) -> list[Checked]:
        self.batches += 1
        if self.batches == 1:
            self.holding.set()
            await self.go.wait()
        return await super().check(items, now)


def batches_of_four(monkeypatch: pytest.MonkeyPatch, page: int) -> None:
    """Bodies batches of 4 and changes pages of ``page`` entries."""
    monkeypatch.setattr(feed, "MAX_BATCH_IDS", 4)
    monkeypatch.setattr(feed, "MAX_FEED_ENTRIES", page)


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    batches_of_four(monkeypatch, 8)


@pytest.mark.usefixtures("small_pages")
async def test_the_next_batch_and_page_are_asked_for_while_the_first_is_verified(
    memnet: MemNet,
) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    ids = [await a.publish(f"alert {n}") for n in range(12)]
    asked: list[str] = []

    async def record(path: str) -> None:
        asked.append(path.rsplit("/", 1)[-1])

    memnet.network.link(b.addr, a.addr).before = record
    verifier = b.syncer.verifier = HeldVerifier()
    pull = asyncio.ensure_future(b.pull(a))
    await until(lambda: _true(verifier.holding.is_set()))
    # The first batch is held in verification: the second batch of the page and the
    # second page were asked for all the same.
    await until(lambda: _true(asked.count("bodies") == 2))
    assert asked[:3] == ["changes", "changes", "bodies"] or asked[:3] == [
        "changes",
        "bodies",
        "changes",
    ]
    assert asked.count("changes") == 2
    assert not any([await b.has(i) for i in ids])
    # Nothing was stored, so the cursor has not moved.
    assert (await b.peer(a)).cursor == 0
    verifier.go.set()
    result = await pull
    assert result.error is None and result.stored == 12
    assert all([await b.has(i) for i in ids])
    assert (await b.peer(a)).cursor == 12


@pytest.mark.usefixtures("small_pages")
async def test_a_pull_that_fails_within_its_second_page_counts_what_it_stored(
    memnet: MemNet,
) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    for n in range(16):
        await a.publish(f"alert {n}")
    counted: list[int] = []

    async def received(count: int, now: int) -> None:
        counted.append(count)

    b.syncer.on_received_alerts = received
    bodies = 0

    async def fail_last_batch(path: str) -> None:
        nonlocal bodies
        if path.endswith("/bodies"):
            bodies += 1
            if bodies == 4:
                raise PeerUnreachable("gone")

    memnet.network.link(b.addr, a.addr).before = fail_last_batch
    result = await b.pull(a)
    assert result.error is not None
    # The first page (8 alerts) and the first batch of the second (4) were stored and
    # counted; the cursor covers only the whole first page.
    assert result.stored == 12 and sum(counted) == 12
    assert (await b.peer(a)).cursor == 8


async def _true(value: bool) -> bool:
    return value


@pytest.fixture
def page_of_four_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    batches_of_four(monkeypatch, 16)


@pytest.mark.usefixtures("page_of_four_batches")
async def test_batches_verified_while_a_write_runs_are_written_together(
    memnet: MemNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storing is the slow part of a catch-up: what is verified meanwhile waits and
    goes in the next transaction, not one transaction per batch."""
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    for n in range(16):
        await a.publish(f"alert {n}")
    writes: list[int] = []
    first, go = asyncio.Event(), asyncio.Event()
    real = b.store.alerts.put_batch

    async def put_batch(items: Sequence[Any], now: int, *, synced: bool = True) -> list[bool]:
        writes.append(len(items))
        if len(writes) == 1:
            first.set()
            await go.wait()
        return await real(items, now, synced=synced)

    monkeypatch.setattr(b.store.alerts, "put_batch", put_batch)
    pull = asyncio.ensure_future(b.pull(a))
    await until(lambda: _true(first.is_set()))
    # The other three batches are fetched and verified while the first is written.
    await until(lambda: _true(_admitted(b) == 16))
    go.set()
    result = await pull
    assert result.stored == 16
    # The first write took what was queued when it began (one batch, or two when the
    # writer started late); all that was verified while it ran went in one more.
    assert len(writes) == 2 and writes[0] in (4, 8) and writes[1] == 16 - writes[0]
    assert b.syncer.ledger._pending == {}


@pytest.mark.usefixtures("page_of_four_batches")
async def test_a_failed_write_drops_the_batches_queued_behind_it(
    memnet: MemNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    for n in range(16):
        await a.publish(f"alert {n}")
    go = asyncio.Event()

    async def put_batch(items: Sequence[Any], now: int, *, synced: bool = True) -> list[bool]:
        await go.wait()
        raise StoreFailed("the disk is full")

    monkeypatch.setattr(b.store.alerts, "put_batch", put_batch)
    pull = asyncio.ensure_future(b.pull(a))
    await until(lambda: _true(_admitted(b) == 16))
    go.set()
    with pytest.raises(StoreFailed):
        await pull
    # Nothing stored, the cursor did not move, and no quota count is left provisional.
    assert (await b.peer(a)).cursor == 0
    assert b.syncer.ledger._pending == {}


class StoreFailed(Exception):
    pass


def _admitted(node: Any) -> int:
    """Items admitted against a peer's quota and not yet written (or dropped)."""
    pending = node.syncer.ledger._pending
    return sum(n for (kind, _), n in pending.items() if kind == "peer")
