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
from federation.ingest import Admission
from federation.verifier import Checked, Verifier
from protocol import feed
from protocol.alert import sign_alert
from protocol.signing import Envelope, Kind
from tests.federation.memnet import MemNet, MemNode, alert_body, retraction_by, until


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


async def recording_pair(
    memnet: MemNet, alerts: int
) -> tuple[MemNode, MemNode, list[bytes], list[str]]:
    """A holding ``alerts`` alerts (their ids), paired with B, and the list that each
    request B then makes to A adds its last path segment to."""
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    ids = [await a.publish(f"alert {n}") for n in range(alerts)]
    asked: list[str] = []

    async def record(path: str) -> None:
        asked.append(path.rsplit("/", 1)[-1])

    memnet.network.link(b.addr, a.addr).before = record
    return a, b, ids, asked


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    batches_of_four(monkeypatch, 8)


@pytest.mark.usefixtures("small_pages")
async def test_the_next_batch_and_page_are_asked_for_while_the_first_is_verified(
    memnet: MemNet,
) -> None:
    a, b, ids, asked = await recording_pair(memnet, 12)
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
async def test_the_next_batch_is_verified_as_it_arrives_while_the_first_is_held(
    memnet: MemNet,
) -> None:
    """The verification pool gets the next batch as soon as its bodies arrive, not
    once the batch before it is admitted: it never waits on the event loop between
    batches (issue 17, item 1)."""
    a, b, ids, _asked = await recording_pair(memnet, 8)
    verifier = b.syncer.verifier = HeldVerifier()
    pull = asyncio.ensure_future(b.pull(a))
    await until(lambda: _true(verifier.holding.is_set()))
    await until(lambda: _true(verifier.batches == 2))
    assert not any([await b.has(i) for i in ids])
    verifier.go.set()
    result = await pull
    assert result.error is None and result.stored == 8 and verifier.batches == 2
    assert all([await b.has(i) for i in ids])
    assert (await b.peer(a)).cursor == 8


@pytest.mark.usefixtures("small_pages")
async def test_a_batch_verified_ahead_is_admitted_as_strictly_as_one_checked_in_turn(
    memnet: MemNet,
) -> None:
    """A forged item in a batch verified ahead is refused and counted; the rest of
    both batches is stored."""
    d = await memnet.node("d")
    evil = await memnet.hostile("evil", d)
    now = memnet.clock.now()
    honest = [evil.serve(sign_alert(alert_body(evil.key, now, f"honest {n}"), evil.key, now))
              for n in range(6)]  # fmt: skip
    forged = Envelope(
        Kind.ALERT, evil.pub, alert_body(evil.key, now, "forged").to_bytes(), b"\x00" * 64
    )
    forged_id = evil.feed.add(forged.to_bytes(), origin=evil.pub, claimed_id=forged.id)
    honest.append(evil.serve(sign_alert(alert_body(evil.key, now, "last"), evil.key, now)))
    verifier = d.syncer.verifier = HeldVerifier()
    verifier.go.set()
    result = await d.syncer.pull(await d.peer(evil))  # type: ignore[arg-type]
    assert result.error is None, result.error
    # Two batches of four: the forged item was in the second, checked ahead.
    assert verifier.batches == 2
    assert result.stored == 7 and result.refused == 1
    assert result.refusal_code == "bad_signature"
    assert all([await d.has(i) for i in honest]) and not await d.has(forged_id)


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


class HeldWrites:
    """``put_batch`` that holds each write until the test lets it go."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.sizes: list[int] = []
        self.started = asyncio.Event()
        self.gates: list[asyncio.Event] = []

    async def __call__(self, items: Sequence[Any], now: int, *, synced: bool = True) -> list[bool]:
        gate = asyncio.Event()
        self.gates.append(gate)
        self.sizes.append(len(items))
        self.started.set()
        await gate.wait()
        return await self.real(items, now, synced=synced)

    def release(self) -> None:
        self.started.clear()
        self.gates[-1].set()


@pytest.mark.usefixtures("small_pages")
async def test_the_next_page_is_fetched_and_checked_while_the_page_before_is_written(
    memnet: MemNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One writer serves the whole pull: the second page's bodies are asked for and
    verified while the first page is still being stored, and each page's cursor is
    saved only once that page is written."""
    a, b, ids, asked = await recording_pair(memnet, 16)
    writes = HeldWrites(b.store.alerts.put_batch)
    monkeypatch.setattr(b.store.alerts, "put_batch", writes)
    pull = asyncio.ensure_future(b.pull(a))
    await until(lambda: _true(writes.started.is_set()))
    # The first write is held; all four batches of both pages are fetched and admitted.
    await until(lambda: _true(_admitted(b) == 16))
    assert asked.count("bodies") == 4 and asked.count("changes") >= 2
    assert (await b.peer(a)).cursor == 0
    # The first page is written (one or two writes); the second page's write is held.
    while sum(writes.sizes) < 16:
        writes.release()
        await until(lambda: _true(writes.started.is_set()))
    assert sum(writes.sizes[:-1]) == 8, writes.sizes
    await until(lambda: _cursor_is(b, a, 8))
    assert (await b.peer(a)).cursor == 8
    assert not await b.has(ids[-1])
    writes.release()
    result = await pull
    assert result.error is None and result.stored == 16
    assert (await b.peer(a)).cursor == 16
    assert len(b.syncer.in_flight) == 0 and b.syncer.ledger._pending == {}


async def _cursor_is(node: Any, peer: Any, cursor: int) -> bool:
    return bool((await node.peer(peer)).cursor == cursor)


@pytest.mark.usefixtures("small_pages")
async def test_a_pull_cancelled_while_a_write_is_held_releases_what_it_claimed(
    memnet: MemNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claims on ids (inflight.py) outlive the fetch until the write under them ends;
    a pull stopped meanwhile still gives every one of them back, and its counts."""
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    for n in range(16):
        await a.publish(f"alert {n}")
    writes = HeldWrites(b.store.alerts.put_batch)
    monkeypatch.setattr(b.store.alerts, "put_batch", writes)
    pull = asyncio.ensure_future(b.pull(a))
    await until(lambda: _true(_admitted(b) == 16))
    assert len(b.syncer.in_flight) == 16
    pull.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pull
    assert len(b.syncer.in_flight) == 0
    assert b.syncer.ledger._pending == {}
    assert (await b.peer(a)).cursor == 0


@pytest.mark.usefixtures("small_pages")
async def test_a_retraction_a_page_after_its_unwritten_alert_is_judged_by_that_alert(
    memnet: MemNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A peer's retraction of an alert it served a page earlier, signed by another key,
    is refused as not the origin's even while the alert is still being written."""
    a, b = await memnet.node("a"), await memnet.node("b")
    evil = await memnet.hostile("evil", b)
    now = memnet.clock.now()
    alerts = [sign_alert(alert_body(a.key, now, f"relayed {n}"), a.key, now) for n in range(8)]
    for alert in alerts:
        evil.serve(alert, hops=1)
    evil.serve(retraction_by(evil.key, alerts[0].id, now))
    writes = HeldWrites(b.store.alerts.put_batch)
    monkeypatch.setattr(b.store.alerts, "put_batch", writes)
    refused: list[str] = []
    monkeypatch.setattr(
        Admission, "_refused", staticmethod(lambda peer, result, exc: refused.append(exc.code))
    )
    pull = asyncio.ensure_future(b.pull(evil))
    await until(lambda: _true(writes.started.is_set()))
    # The retraction, on the second page, is judged while the first page's write is held.
    await until(lambda: _true(refused == ["not_origin"]))
    # The first write (the first page's first batch, with the alert) is still held.
    assert len(writes.sizes) == 1 and not writes.gates[0].is_set()
    assert not await b.has(alerts[0].id)
    while not pull.done():
        writes.release()
        await until(lambda: _true(writes.started.is_set() or pull.done()))
    result = pull.result()
    assert result.error is None and result.stored == 8
    assert await b.has(alerts[0].id)
    assert (await b.store.alerts.counts(now)).get("markers", 0) == 0
