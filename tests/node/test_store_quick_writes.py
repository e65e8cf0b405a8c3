"""Small unsynced writes run on the event loop while the database thread is idle
(issue 17, item 2).

With a hundred nodes sharing two cores, a hop to the database thread cost a relay far
more than the write itself: the nonce of every request served, the alert it stored,
its count and the notifier's place each made one. ``Database.write(quick=True)``
writes at once when no write is under way and the thread holds no call and none is
queued, and otherwise takes its turn as before. Its COMMIT never checkpoints the WAL
(the event loop must not wait for one); after MAX_QUICK_WRITES in a row, one goes to
the thread, whose COMMIT does. A synced write always goes to the thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.keys.crypto import RowCrypto
from node.store import Store
from node.store.db import (
    DB_FILE,
    MAX_QUICK_WRITES,
    QUICK_KEYS,
    WAL_AUTOCHECKPOINT_PAGES,
    Database,
)
from tests.dbcalls import count_calls
from tests.node.test_store import KEY_B, NOW, alert

HERE = threading.current_thread().name
FULL = 2  # PRAGMA synchronous
NORMAL = 1


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    opened = await Database.open(tmp_path / DB_FILE, RowCrypto(b"\x01" * 32))
    await opened.write(lambda conn: conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"))
    yield opened
    await opened.close()


def _insert(k: int, seen: list[tuple[str, int, int]]) -> object:
    """A job that inserts row ``k`` and records where it ran, with the autocheckpoint
    and synchronous settings its transaction ran under."""

    def job(conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        synchronous = conn.execute("PRAGMA synchronous").fetchone()[0]
        seen.append((threading.current_thread().name, pages, synchronous))
        conn.execute("INSERT INTO t VALUES (?, ?)", (k, str(k)))

    return job


def _settings(conn: sqlite3.Connection) -> tuple[int, int]:
    pages = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    synchronous = conn.execute("PRAGMA synchronous").fetchone()[0]
    return pages, synchronous


async def _rows(db: Database) -> list[int]:
    return [r[0] for r in await db.fetchall("SELECT k FROM t ORDER BY k")]


async def test_an_unsynced_quick_write_runs_here_without_checkpointing(db: Database) -> None:
    seen: list[tuple[str, int, int]] = []
    calls = count_calls(db)
    await db.write(_insert(1, seen), synced=False, quick=True)  # type: ignore[arg-type]
    assert calls["all"] == 0
    # Here, unsynced, and with the automatic checkpoint off for its COMMIT.
    assert seen == [(HERE, 0, NORMAL)]
    # Both settings are back as they were for every other write.
    assert await db.run(_settings) == (WAL_AUTOCHECKPOINT_PAGES, FULL)
    assert await _rows(db) == [1]


async def test_a_synced_or_plain_write_goes_to_the_thread(db: Database) -> None:
    seen: list[tuple[str, int, int]] = []
    await db.write(_insert(1, seen), quick=True)  # type: ignore[arg-type]
    await db.write(_insert(2, seen), synced=False)  # type: ignore[arg-type]
    assert [where != HERE for where, _, _ in seen] == [True, True]
    assert seen[0][1:] == (WAL_AUTOCHECKPOINT_PAGES, FULL)
    assert seen[1][1:] == (WAL_AUTOCHECKPOINT_PAGES, NORMAL)
    assert await _rows(db) == [1, 2]


async def test_a_quick_write_takes_its_turn_behind_a_write_under_way(db: Database) -> None:
    release = threading.Event()

    def slow(conn: sqlite3.Connection) -> None:
        release.wait(5)
        conn.execute("INSERT INTO t VALUES (1, 'first')")

    first = asyncio.ensure_future(db.write(slow))
    await asyncio.sleep(0)  # the slow write holds the lock and the database thread
    seen: list[tuple[str, int, int]] = []
    second = asyncio.ensure_future(db.write(_insert(2, seen), synced=False, quick=True))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert not second.done() and seen == [], "the quick write waits for the one under way"
    release.set()
    await asyncio.gather(first, second)
    assert [where != HERE for where, _, _ in seen] == [True]
    assert await _rows(db) == [1, 2]


async def test_a_quick_write_waits_for_an_open_transaction(db: Database) -> None:
    """Between a transaction's statements the thread is idle, but the write lock is
    held: a quick write must not commit the transaction's rows half done."""
    seen: list[tuple[str, int, int]] = []
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO t VALUES (1, 'in the transaction')")
        waiting = asyncio.ensure_future(db.write(_insert(2, seen), synced=False, quick=True))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        assert not waiting.done() and seen == []
    await waiting
    assert [where != HERE for where, _, _ in seen] == [True]
    assert await _rows(db) == [1, 2]


async def test_after_max_quick_writes_one_goes_to_the_thread(db: Database) -> None:
    """So the WAL is checkpointed there at least every MAX_QUICK_WRITES writes."""
    seen: list[tuple[str, int, int]] = []
    for k in range(MAX_QUICK_WRITES + 2):
        await db.write(_insert(k, seen), synced=False, quick=True)  # type: ignore[arg-type]
    where = [w for w, _, _ in seen]
    assert where[:MAX_QUICK_WRITES] == [HERE] * MAX_QUICK_WRITES
    assert where[MAX_QUICK_WRITES] != HERE
    assert seen[MAX_QUICK_WRITES][1] == WAL_AUTOCHECKPOINT_PAGES
    # The write on the thread started the count again.
    assert where[MAX_QUICK_WRITES + 1] == HERE
    assert len(await _rows(db)) == MAX_QUICK_WRITES + 2


async def test_a_failed_quick_write_changes_nothing(db: Database) -> None:
    def half(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (1, 'half')")
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(sqlite3.OperationalError):
        await db.write(half, synced=False, quick=True)
    assert await _rows(db) == []
    assert await db.run(_settings) == (WAL_AUTOCHECKPOINT_PAGES, FULL)
    assert not db.conn._conn.in_transaction  # type: ignore[union-attr]
    # And the next quick write is here and commits.
    seen: list[tuple[str, int, int]] = []
    await db.write(_insert(2, seen), synced=False, quick=True)  # type: ignore[arg-type]
    assert seen == [(HERE, 0, NORMAL)]
    assert await _rows(db) == [2]


async def test_a_quick_write_survives_reopening(tmp_path: Path) -> None:
    crypto = RowCrypto(b"\x01" * 32)
    db = await Database.open(tmp_path / DB_FILE, crypto)
    await db.write(lambda conn: conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"))
    await db.write(_insert(7, []), synced=False, quick=True)  # type: ignore[arg-type]
    await db.close()
    again = await Database.open(tmp_path / DB_FILE, crypto)
    try:
        assert await _rows(again) == [7]
    finally:
        await again.close()


async def test_the_quota_counts_are_exact_on_either_side_of_quick_keys(store: Store) -> None:
    """Each count a pull's quotas ask for is made up to QUICK_KEYS on the loop, and
    made again, whole, on the thread when it reaches it."""
    origin, peer = bytes(KEY_B.verify_key), b"\x01" * 32
    few = [(alert(KEY_B, text=f"a{n}"), 1, peer) for n in range(QUICK_KEYS - 1)]
    await store.alerts.put_batch(few, NOW)
    calls = count_calls(store.db)

    async def counts() -> tuple[int, int, int, int]:
        return (
            await store.alerts.count_active(origin, NOW),
            await store.alerts.count_delivered([peer], NOW),
            await store.alerts.count_unnamed([], NOW),
            await store.alerts.count_unnamed([origin], NOW),
        )

    assert await counts() == (QUICK_KEYS - 1, QUICK_KEYS - 1, QUICK_KEYS - 1, 0)
    assert calls["all"] == 0
    more = [(alert(KEY_B, text=f"b{n}"), 1, peer) for n in range(5)]
    await store.alerts.put_batch(more, NOW)
    calls.clear()
    assert await counts() == (QUICK_KEYS + 4, QUICK_KEYS + 4, QUICK_KEYS + 4, 0)
    # Five counts reached QUICK_KEYS (count_unnamed([origin]) makes two) and were
    # made again on the thread.
    assert calls["all"] == 5


async def test_flush_syncs_only_after_an_unsynced_commit(db: Database) -> None:
    """Before a node serves a feed position, every commit so far is on the disk."""
    calls = count_calls(db)
    await db.flush()
    assert calls["all"] == 0 and not db.unsynced
    await db.write(_insert(1, []), synced=False, quick=True)  # type: ignore[arg-type]
    assert db.unsynced and calls["all"] == 0
    await db.flush()
    # One synced write on the thread, which takes the quick write to the disk with it.
    assert calls["all"] == 1 and not db.unsynced
    await db.flush()
    assert calls["all"] == 1
    # Unsynced on the thread, and in a transaction of several statements, the same.
    await db.write(_insert(2, []), synced=False)  # type: ignore[arg-type]
    assert db.unsynced
    await db.write(_insert(3, []))  # type: ignore[arg-type]
    assert not db.unsynced
    async with db.transaction(synced=False) as conn:
        await conn.execute("INSERT INTO t VALUES (4, '4')")
    assert db.unsynced
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO t VALUES (5, '5')")
    assert not db.unsynced
    assert await _rows(db) == [1, 2, 3, 4, 5]
