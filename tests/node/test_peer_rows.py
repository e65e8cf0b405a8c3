"""The trust list in memory between writes (node/store/peer_rows.py, issue 17 item 2):
the server looks its caller up on every request, so reads come from memory, and every
write is seen by the next read."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from node.store import Store, peer_rows

NOW = 1_790_000_000
PEER, OTHER, NEW_KEY = b"\x07" * 32, b"\x08" * 32, b"\x09" * 32


@pytest.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = await Store.open(tmp_path, b"\x01" * 32)
    for key, name in ((PEER, "Lisbon"), (OTHER, "Porto")):
        await s.peers.add(
            key, name, (f"https://{name.lower()}.example",), (b"\x01" * 32,),
            accept="relay", share=True, proxy=None, now=NOW,
        )  # fmt: skip
    yield s
    await s.close()


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count every read of the trust list from the database (on its thread, or on the
    event loop while that thread is idle: ``Database.quick_run``)."""
    reads = [0]
    real = peer_rows._read

    def counted(conn: sqlite3.Connection) -> peer_rows.Snapshot:
        reads[0] += 1
        return real(conn)

    monkeypatch.setattr(peer_rows, "_read", counted)
    return reads


async def test_reads_between_writes_do_not_touch_the_database(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.peers.get(PEER)
    hops = count_reads(monkeypatch)
    for _ in range(5):
        got = await store.peers.get(PEER)
        assert got is not None and got.name == "Lisbon"
        assert [p.name for p in await store.peers.list()] == ["Lisbon", "Porto"]
    assert await store.peers.get(NEW_KEY) is None
    assert hops == [0]
    # A write, then one read of the whole list again.
    await store.peers.set_policy(PEER, suspended=True)
    hops[0] = 0
    for _ in range(3):
        got = await store.peers.get(PEER)
        assert got is not None and got.suspended
    assert hops == [1]


async def test_a_peer_is_built_once_between_writes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request looks its peer up: between writes each lookup is the same frozen
    Peer, built from the rows once (its previous keys with it); a write builds anew."""
    await store.peers.replace_key(PEER, NEW_KEY, rotated_at=NOW)
    built = [0]
    real = store.peers._row

    def counted(row: sqlite3.Row, previous: tuple[bytes, ...] = ()) -> Any:
        built[0] += 1
        return real(row, previous)

    monkeypatch.setattr(store.peers, "_row", counted)
    first = await store.peers.get(NEW_KEY)
    assert first is not None and first.previous == (PEER,)
    for _ in range(3):
        assert await store.peers.get(NEW_KEY) is first
    assert built == [1]
    await store.peers.set_policy(NEW_KEY, suspended=True)
    again = await store.peers.get(NEW_KEY)
    assert again is not None and again is not first
    assert again.suspended and again.previous == (PEER,) and built == [2]


async def test_every_write_is_seen_by_the_next_read(store: Store) -> None:
    await store.peers.list()  # held from here on
    await store.peers.save_progress(PEER, epoch=b"e" * 16, cursor=42, received=3, lag=0, now=NOW)
    got = await store.peers.get(PEER)
    assert got is not None and got.cursor == 42 and got.epoch == b"e" * 16
    await store.peers.set_policy(PEER, accept="direct", share=False)
    got = await store.peers.get(PEER)
    assert got is not None and (got.accept, got.share) == ("direct", False)
    await store.peers.record_error(PEER, "timeout", "no answer", NOW)
    await store.peers.record_refusals(PEER, 2, "too_old", NOW)
    stats = dict((p.key, s) for p, s in await store.peers.list_with_stats())[PEER]
    assert stats["last_error"]["code"] == "timeout" and stats["refused"]["count"] == 2
    assert await store.peers.set_pins(PEER, (b"\x02" * 32,), NOW + 1)
    got = await store.peers.get(PEER)
    assert got is not None and got.pins == (b"\x02" * 32,)
    assert await store.peers.set_urls(PEER, ("https://moved.example",), NOW + 1)
    got = await store.peers.get(PEER)
    assert got is not None and got.urls == ("https://moved.example",)
    await store.peers.replace_key(PEER, NEW_KEY, rotated_at=NOW)
    assert await store.peers.get(PEER) is None
    got = await store.peers.get(NEW_KEY)
    assert got is not None and got.previous == (PEER,) and got.cursor == 42
    assert await store.peers.accept_rotation(
        OTHER, PEER, rotated_at=NOW, now=NOW, min_interval_s=60
    ) is None  # fmt: skip
    got = await store.peers.get(PEER)
    assert got is not None and got.name == "Porto" and got.previous == (OTHER,)
    await store.peers.remove(NEW_KEY)
    assert await store.peers.get(NEW_KEY) is None
    assert [p.name for p in await store.peers.list()] == ["Porto"]


async def test_a_failed_write_is_read_again(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails half-way is rolled back; the next read asks the database."""
    await store.peers.list()
    with pytest.raises(RuntimeError):
        async with store.peers._rows.transaction() as conn:
            await conn.execute("UPDATE peers SET cursor = 7 WHERE key = ?", (PEER,))
            raise RuntimeError("half-way")
    hops = count_reads(monkeypatch)
    got = await store.peers.get(PEER)
    assert got is not None and got.cursor == 0
    assert hops == [1]


async def test_a_read_under_way_when_a_write_ends_is_not_kept(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read took the rows before the write and came back after it ended: it is
    answered, but the next read must not be served the rows from before the write."""
    read_done, release = asyncio.Event(), asyncio.Event()
    real_run = store.db.quick_run

    async def slow_run(job: Callable[..., Any]) -> Any:
        result = await real_run(job)
        read_done.set()
        await release.wait()
        return result

    await store.peers.record_error(OTHER, "timeout", "no answer", NOW)  # nothing held
    monkeypatch.setattr(store.db, "quick_run", slow_run)
    reading = asyncio.ensure_future(store.peers.get(PEER))
    await read_done.wait()
    monkeypatch.setattr(store.db, "quick_run", real_run)
    await store.peers.save_progress(PEER, epoch=b"e" * 16, cursor=9, received=1, lag=0, now=NOW)
    release.set()
    old = await reading
    assert old is not None and old.cursor == 0
    got = await store.peers.get(PEER)
    assert got is not None and got.cursor == 9
