"""The store's reader: members' reads never wait behind a write, and never see one
half done (node/store/db.py).

A node catching up stores its batches on the database thread, each a transaction of
many statements. A member's check or alerts page read on that thread waited for every
batch queued before it (hundreds of milliseconds each while a node took in 20,000
alerts), and a read made between the statements of a transaction saw its rows before
COMMIT. Reads now go to a read-only connection of their own, which in WAL mode sees
the last COMMIT.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from node.store import Store
from node.store.db import DB_FILE

from .test_store import NOW, alert

PHONE = b"\x07" * 32

Read = Callable[[Store, bytes], Awaitable[Any]]
# What a member's check and alerts page, and a peer's bodies request, read.
READS: dict[str, Read] = {
    "check": lambda s, _id: s.alerts.find_by_indicator("phone", PHONE, NOW),
    "list": lambda s, _id: s.alerts.list_active(NOW),
    "page": lambda s, _id: s.alerts.page_rows(NOW, limit=10),
    "one alert": lambda s, alert_id: s.alerts.get_alert(alert_id, NOW),
    "bodies": lambda s, alert_id: s.alerts.get_envelopes([alert_id] * 65, NOW),
    "counts": lambda s, _id: s.alerts.counts(NOW),
}


def _found(result: Any) -> bool:
    """Whether ``result`` (any of READS') shows the one alert."""
    if isinstance(result, tuple):  # a page: (rows, cursor)
        result = result[0]
    if isinstance(result, dict):
        return bool(result.get("alerts", result))
    if isinstance(result, list):
        return bool(result)
    return result is not None


@pytest.mark.parametrize("what", READS)
async def test_a_read_does_not_wait_for_a_write_under_way(store: Store, what: str) -> None:
    held = alert()
    await store.alerts.put_alert(held, hops=1, received_from=None, now=NOW)
    release, started = threading.Event(), threading.Event()

    def slow_write(conn: sqlite3.Connection) -> None:
        started.set()
        release.wait(10)
        conn.execute("DELETE FROM alerts")

    writing = asyncio.ensure_future(store.db.write(slow_write))
    try:
        for _ in range(5000):
            if started.is_set() or writing.done():
                break
            await asyncio.sleep(0.001)
        assert started.is_set()
        # The database thread is inside the write; the read is answered all the same.
        result = await asyncio.wait_for(READS[what](store, held.id), 5)
        assert _found(result)
        assert not writing.done()
    finally:
        release.set()
        await writing
    assert not _found(await READS[what](store, held.id))


@pytest.mark.parametrize("what", READS)
async def test_a_read_never_sees_a_transaction_half_done(store: Store, what: str) -> None:
    held = alert()
    await store.alerts.put_alert(held, hops=1, received_from=None, now=NOW)
    with pytest.raises(RuntimeError):
        async with store.db.transaction() as conn:
            await conn.execute("DELETE FROM indicators")
            await conn.execute("DELETE FROM alerts")
            # Between the statements the database thread is idle: a read on the
            # writer's connection would find the alert gone before COMMIT.
            assert _found(await READS[what](store, held.id))
            raise RuntimeError("rolled back")
    assert _found(await READS[what](store, held.id))


async def test_the_reader_cannot_write(store: Store) -> None:
    def write(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM alerts")

    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await store.db.run(write)


async def test_a_deletion_still_empties_the_wal_with_the_reader_in_use(
    store: Store, tmp_path: Path
) -> None:
    """The data-protection rule (a TRUNCATE checkpoint after every deletion) holds
    with reads going on beside it: old page images do not linger in the WAL."""
    held = alert()
    await store.alerts.put_alert(held, hops=1, received_from=None, now=NOW)
    wal = tmp_path / f"{DB_FILE}-wal"
    assert wal.stat().st_size > 0
    reads = [asyncio.ensure_future(READS["list"](store, held.id)) for _ in range(20)]
    gone = await store.alerts.purge_expired(NOW + 365 * 86400)
    await asyncio.gather(*reads)
    assert gone["alerts"] == 1
    assert not store.db.checkpoint_pending
    assert wal.stat().st_size == 0


async def test_closing_the_store_closes_the_reader(tmp_path: Path) -> None:
    (tmp_path / "own").mkdir()
    store = await Store.open(tmp_path / "own", b"\x01" * 32)
    reader = store.db.reader
    assert reader is not None
    await store.alerts.list_active(NOW)
    await store.close()
    assert store.db.reader is None
    with pytest.raises(ValueError):
        await reader.execute("SELECT 1")
