"""Short reads run on the event loop while the database thread is idle (issue 17).

A hop to the database thread and back cost a relay about 0.2 ms of CPU, a dozen times
for each alert it passed on. ``Database.quick`` reads at once when the thread holds
no call and none is queued. Otherwise a store in a file reads on its reader (the last
committed state, without waiting for the write under way), and a store in memory,
which has no reader, queues the read behind the write.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.keys.crypto import RowCrypto
from node.store.db import DB_FILE, QUICK_KEYS, Database


@pytest.fixture(params=["file", "memory"])
async def db(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    path = tmp_path / DB_FILE if request.param == "file" else Path(":memory:")
    opened = await Database.open(path, RowCrypto(b"\x01" * 32))
    assert (opened.reader is None) == (request.param == "memory")
    await opened.write(lambda conn: conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"))
    await opened.write(lambda conn: conn.execute("INSERT INTO t VALUES (1, 'one')"))
    yield opened
    await opened.close()


def _on_a_thread(where: list[str]) -> str:
    where.append(threading.current_thread().name)
    return "read"


async def test_an_idle_database_thread_is_not_used(db: Database) -> None:
    where: list[str] = []
    assert await db.quick_run(lambda _conn: _on_a_thread(where)) == "read"
    assert where == [threading.current_thread().name]
    rows = await db.quick("SELECT v FROM t WHERE k = ?", (1,))
    assert [tuple(r) for r in rows] == [("one",)]
    row = await db.quick_one("SELECT v FROM t WHERE k = ?", (2,))
    assert row is None


async def test_a_read_naming_many_keys_goes_to_the_database_thread(db: Database) -> None:
    """A catch-up's batch of ids is read on the thread even when it is idle."""
    where: list[str] = []
    await db.quick_run(lambda _conn: _on_a_thread(where), keys=QUICK_KEYS)
    await db.quick_run(lambda _conn: _on_a_thread(where), keys=QUICK_KEYS + 1)
    assert where[0] == threading.current_thread().name
    assert where[1] != threading.current_thread().name


async def test_a_busy_database_thread_does_not_hold_the_read(db: Database) -> None:
    """With a reader, a read made while a write is under way sees the last COMMIT at
    once, on the reader's thread; without one, it is read after the write commits, as
    a queued read would see it."""
    release = threading.Event()

    def slow_insert(conn: sqlite3.Connection) -> None:
        release.wait(5)
        conn.execute("INSERT INTO t VALUES (2, 'two')")

    writing = asyncio.ensure_future(db.write(slow_insert))
    await asyncio.sleep(0)  # the write is queued and held on the database thread
    where: list[str] = []

    def read(conn: sqlite3.Connection) -> list[object]:
        where.append(threading.current_thread().name)
        return [r[0] for r in conn.execute("SELECT v FROM t ORDER BY k")]

    reading = asyncio.ensure_future(db.quick_run(read))
    if db.reader is not None:
        assert await asyncio.wait_for(reading, 5) == ["one"]
        assert where == [db.reader._thread.name]
        release.set()
        await writing
    else:
        await asyncio.sleep(0.05)
        assert not reading.done(), "the read waits for the write queued before it"
        release.set()
        await writing
        assert await reading == ["one", "two"]
        assert where == [db.conn._thread.name]
    # Idle again: the next read is here and now.
    where.clear()
    await db.quick_run(read)
    assert where == [threading.current_thread().name]
    assert await db.quick_run(read) == ["one", "two"]


async def test_a_read_between_the_statements_of_a_transaction_sees_it(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO t VALUES (3, 'three')")
        # The thread is idle between statements; the same connection holds the rows.
        assert await db.quick_one("SELECT v FROM t WHERE k = 3") is not None
    assert await db.quick_one("SELECT v FROM t WHERE k = 3") is not None


async def test_a_failed_call_on_the_thread_leaves_it_idle(db: Database) -> None:
    with pytest.raises(sqlite3.OperationalError):
        await db.fetchall("SELECT * FROM no_such_table")
    where: list[str] = []
    await db.quick_run(lambda _conn: _on_a_thread(where))
    assert where == [threading.current_thread().name]


async def test_a_closed_store_refuses_a_quick_read(tmp_path: Path) -> None:
    closed = await Database.open(tmp_path / DB_FILE, RowCrypto(b"\x01" * 32))
    await closed.close()
    assert closed.reader is None
    with pytest.raises(ValueError):
        await closed.quick("SELECT 1")
    with pytest.raises(ValueError):
        await closed.fetchall("SELECT 1")
