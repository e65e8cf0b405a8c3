"""Storing a pulled batch costs the event loop a few hops to the database thread.

Issue 17 item 1: the plain new alerts of a batch (the bulk of a catch-up) are looked
up, sealed, tagged and written in one job on the database thread, not one await per
statement with the rows built on the event loop.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite

from node.keys.crypto import RowCrypto
from node.store import Store
from node.store.db import DB_FILE, Database

from .test_store import NOW, alert

BATCH = 100


class CountingConnection(aiosqlite.Connection):
    """aiosqlite's connection, counting the calls queued for its thread."""

    calls = 0

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return await super()._execute(fn, *args, **kwargs)


class Calls:
    """The calls queued for the threads of a store's connections (writer and reader)."""

    def __init__(self, made: list[CountingConnection]) -> None:
        self.made = made

    @property
    def calls(self) -> int:
        return sum(conn.calls for conn in self.made)


async def _open(tmp_path: Path) -> tuple[Store, Calls]:
    made: list[CountingConnection] = []

    def connect(path: Any, **kwargs: Any) -> CountingConnection:
        conn = CountingConnection(lambda: sqlite3.connect(str(path), **kwargs), 64)
        made.append(conn)
        return conn

    crypto = RowCrypto(b"\x01" * 32)
    db = await Database.open(tmp_path / DB_FILE, crypto, connect=connect)
    assert len(made) == 2  # the writer and the reader
    return Store(db, crypto), Calls(made)


async def test_a_batch_of_plain_alerts_is_one_job_on_the_database_thread(
    tmp_path: Path,
) -> None:
    store, conn = await _open(tmp_path)
    try:
        batch = [(alert(text=str(n)), 1, b"\x05" * 32) for n in range(BATCH)]
        before = conn.calls
        assert await store.alerts.put_batch(batch, NOW) == [True] * BATCH
        # BEGIN, the job, COMMIT (one statement per await and rows built on the loop
        # took eight and a hundred seals on the event loop).
        assert conn.calls - before <= 3
        assert len(await store.alerts.list_active(NOW, limit=BATCH + 1)) == BATCH
        assert len(await store.alerts.feed(0, BATCH + 1)) == BATCH
        again = await store.alerts.put_batch(batch[:3], NOW)
        assert again == [False] * 3
    finally:
        await store.close()


async def test_rows_are_sealed_off_the_event_loop(tmp_path: Path) -> None:
    store, _ = await _open(tmp_path)
    sealed_on: set[int] = set()
    seal = store.alerts._crypto.seal

    def recording_seal(*args: Any) -> bytes:
        sealed_on.add(threading.get_ident())
        return seal(*args)

    store.alerts._crypto.seal = recording_seal  # type: ignore[method-assign]
    try:
        batch = [(alert(text=str(n)), 1, None) for n in range(5)]
        assert await store.alerts.put_batch(batch, NOW) == [True] * 5
        assert sealed_on and threading.get_ident() not in sealed_on
    finally:
        await store.close()


async def test_a_bodies_request_reads_and_opens_its_envelopes_in_one_job(
    tmp_path: Path,
) -> None:
    # The serving side of a catch-up: one job on the database thread reads the alerts
    # and the retractions asked for and opens them, so the event loop decrypts nothing.
    from .test_store import retraction

    store, conn = await _open(tmp_path)
    try:
        alerts = [alert(text=str(n)) for n in range(BATCH)]
        gone = retraction(alerts[0].id)
        await store.alerts.put_batch([(a, 1, None) for a in alerts], NOW)
        await store.alerts.put_retraction(gone, hops=1, received_from=None, now=NOW)
        before = conn.calls
        found = await store.alerts.get_envelopes([a.id for a in alerts] + [gone.id], NOW)
        assert conn.calls - before == 1
        assert found[gone.id] == gone.envelope.to_bytes()
        assert alerts[0].id not in found  # retracted: its content is gone
        assert found[alerts[1].id] == alerts[1].envelope.to_bytes()
        assert len(found) == BATCH
    finally:
        await store.close()
