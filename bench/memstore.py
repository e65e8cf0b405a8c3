"""The lightest real store for simulating many nodes in one process: SQLite in memory,
on the event loop's own thread.

Rule: everything above the connection is the node's own: the same ``Database`` (its
pragmas and migrations), the same ``Store`` areas, the same SQL and row sealing. Two
things differ from a node, and the network benchmark says so: the database lives in
memory (no file, no fsync), and aiosqlite's calls run inline on the event loop instead
of on one worker thread per connection (a thousand threads would measure thread
switching, and a simulation driven by a fake clock must know when the loop is idle).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Generator
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite

from node.keys.crypto import RowCrypto
from node.store import Store
from node.store.db import Database

MEMORY = ":memory:"


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's Connection whose calls run at once on the calling thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._connect().__await__()

    def stop(self) -> None:  # type: ignore[override]
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def connect_inline(database: Any, **kwargs: Any) -> InlineConnection:
    """As ``aiosqlite.connect``, without the thread."""
    return InlineConnection(partial(sqlite3.connect, str(database), **kwargs))


_template: sqlite3.Connection | None = None


async def _migrated_template() -> sqlite3.Connection:
    """An empty store with every migration applied, made once: each new node starts
    as a copy of it instead of running the migrations again (the copy holds no key
    and no epoch; ``Store.epoch`` makes each node its own)."""
    global _template
    if _template is None:
        db = await Database.open(Path(MEMORY), RowCrypto(bytes(32)), connect=connect_inline)
        conn = db.conn._conn
        _template = sqlite3.connect(MEMORY, check_same_thread=False)
        conn.backup(_template)
        await db.close()
    return _template


def _copy_of(template: sqlite3.Connection, **kwargs: Any) -> sqlite3.Connection:
    conn = sqlite3.connect(MEMORY, **kwargs)
    template.backup(conn)
    return conn


async def open_memory_store(_path: Path | None = None) -> Store:
    """A node's store (``Store``) in SQLite's memory, with a fresh data key."""
    crypto = RowCrypto(secrets.token_bytes(32))
    template = await _migrated_template()

    def connect(_database: Any, **kwargs: Any) -> InlineConnection:
        return InlineConnection(partial(_copy_of, template, **kwargs))

    db = await Database.open(Path(MEMORY), crypto, connect=connect)
    store = Store(db, crypto)
    await store.epoch()
    return store
