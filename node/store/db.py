"""Opening the SQLite database with the pragmas that keep deleted data off the disk.

Rule: one connection per node, WAL with synchronous=FULL (an acknowledged write
survives power loss), secure_delete=ON (freed pages are zeroed), and a TRUNCATE
checkpoint after every deletion so that old page images do not linger in the WAL.
Writes go through ``Database.transaction()`` (a statement per hop to the database
thread) or ``Database.write()`` (a whole small transaction in one hop), which
serialise them. A read that an index answers in a few rows may run on the event
loop's thread instead, when the database thread is idle (``Database.quick``), and so
may an unsynced write of a few rows (``Database.write(quick=True)``), which never
checkpoints there.

Every other read goes to a second, read-only connection with a thread of its own
(``Database.reader``), as does a quick read while the database thread is busy. In WAL
mode it reads the last committed state: it never waits behind a catch-up's batches
(a member's check or page while a node stores a million alerts) and never sees a
transaction half done. A store in memory has no second connection (another would be
another database): its reads go to the database thread as its writes do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from ..errors import StoreError
from ..keys.crypto import RowCrypto
from .schema import MIGRATIONS

log = logging.getLogger(__name__)

DB_FILE = "store.db"
# SQLite's page cache (KiB; its default is 2,000). A batch of pulled alerts touches
# about five pages of random-keyed indexes per alert; with the default cache most
# of those were read again from the file for every batch, which doubled the cost of
# storing one (docs/benchmarks.md). Filled only as pages are used.
CACHE_KIB = 16 * 1024
# A quick read by ids or positions names at most this many; one naming more (a
# catch-up's batches) goes to the database thread all the same.
QUICK_KEYS = 64
# SQLite's own default, set explicitly because a quick write turns it off for its
# COMMIT and back on after.
WAL_AUTOCHECKPOINT_PAGES = 1000
# Quick writes in a row, at most; the next unsynced write goes to the database thread,
# where its COMMIT checkpoints the WAL if it has grown past WAL_AUTOCHECKPOINT_PAGES.
# This bounds what quick writes add to the WAL beyond that.
MAX_QUICK_WRITES = 64

T = TypeVar("T")


def on_thread(conn: aiosqlite.Connection, job: Callable[[sqlite3.Connection], T]) -> Awaitable[T]:
    """Run ``job(connection)`` as one call on the database thread (aiosqlite's own
    queue, so it is ordered with every other statement on ``conn``): many statements,
    and the Python work between them, for one hop across threads."""
    execute: Callable[[Callable[[], T]], Awaitable[T]] = conn._execute
    return execute(lambda: job(conn._conn))


def _whole(
    job: Callable[[sqlite3.Connection], T],
    synced: bool,
    conn: sqlite3.Connection,
    *,
    checkpoint: bool = True,
) -> T:
    """``job`` inside BEGIN IMMEDIATE ... COMMIT (``Database.write``), on the database
    thread or, for a quick write, on the event loop's. ``checkpoint=False`` keeps the
    COMMIT from checkpointing the WAL (a quick write must not hold the event loop for
    one): the next write on the database thread does it."""
    if not synced:
        conn.execute("PRAGMA synchronous=NORMAL")
    if not checkpoint:
        conn.execute("PRAGMA wal_autocheckpoint=0")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = job(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result
    finally:
        if not checkpoint:
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        if not synced:
            conn.execute("PRAGMA synchronous=FULL")


def _mark_flushed(conn: sqlite3.Connection) -> None:
    """A change to one row, so that its synced COMMIT writes to the WAL (and syncs it)."""
    conn.execute(
        "INSERT INTO meta (name, value) VALUES ('flushed', 1)"
        " ON CONFLICT (name) DO UPDATE SET value = value + 1"
    )


def _statements(sql: str, then: tuple[str, ...], conn: sqlite3.Connection) -> None:
    """On the database thread: ``sql``, then every one of ``then`` whatever happened."""
    try:
        conn.execute(sql).close()
    finally:
        for step in then:
            conn.execute(step).close()


def _fetch(sql: str, params: tuple[Any, ...], conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every row of ``sql``; the statement is closed after."""
    cursor = conn.execute(sql, params)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


async def open_reader(
    path: Path, connect: Callable[..., aiosqlite.Connection] = aiosqlite.connect
) -> aiosqlite.Connection:
    """The read-only connection beside ``path``'s writer (WAL is a property of the file,
    set by the writer). Raises sqlite3.Error."""
    conn = await connect(path, isolation_level=None)
    try:
        for pragma in (
            "PRAGMA query_only=ON",
            "PRAGMA busy_timeout=5000",
            f"PRAGMA cache_size=-{CACHE_KIB}",
        ):
            await conn.execute(pragma)
    except BaseException:
        await conn.close()
        raise
    return conn


class Database:
    """One aiosqlite connection with serialised write transactions, and one read-only
    connection (``reader``) for reads of committed rows."""

    def __init__(
        self, conn: aiosqlite.Connection, reader: aiosqlite.Connection | None = None
    ) -> None:
        self.conn = conn
        # None: reads go to the writer's thread (a store in memory).
        self.reader = reader
        self._write_lock = asyncio.Lock()
        self.checkpoint_pending = False
        # Calls queued for the database thread, and how many of them it has run to
        # their end: equal when it is idle. Each has one writer (the event loop's
        # thread and the database thread), so neither count is ever lost.
        self._queued = 0
        self._finished = 0
        # Quick writes since the last write on the database thread (``write``).
        self._quick_writes = 0
        # True once a transaction committed without waiting for the disk, until a
        # synced one commits (which takes every commit before it to the disk).
        self.unsynced = False
        execute: Callable[..., Awaitable[Any]] = conn._execute

        async def counted(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            def call() -> Any:
                try:
                    return fn(*args, **kwargs)
                finally:
                    self._finished += 1

            # No await between the count and the queueing: the call is queued now.
            self._queued += 1
            return await execute(call)

        conn._execute = counted  # type: ignore[method-assign]

    @classmethod
    async def open(
        cls,
        path: Path,
        crypto: RowCrypto,
        *,
        connect: Callable[..., aiosqlite.Connection] = aiosqlite.connect,
    ) -> Database:
        """Open (creating if needed) and migrate; ``crypto`` seals what a migration
        moves out of the clear. ``connect`` is aiosqlite's (a simulation of many nodes
        in one process passes one without a thread). A store in a file also gets its
        read-only connection (``reader``). Raises StoreError."""
        try:
            # The event loop's thread uses the connection too, only while the
            # database thread is idle (``quick``); SQLite serialises calls anyway.
            conn = await connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"the store cannot be opened ({exc})") from None
        db = cls(conn)
        try:
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=FULL",
                "PRAGMA secure_delete=ON",
                "PRAGMA journal_size_limit=0",
                "PRAGMA busy_timeout=5000",
                f"PRAGMA cache_size=-{CACHE_KIB}",
                f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}",
            ):
                await conn.execute(pragma)
            if await db._migrate(crypto):
                # The rows as they were before lie in the WAL until a checkpoint.
                await db.checkpoint()
            await conn.execute("PRAGMA foreign_keys=ON")
            if str(path) != ":memory:":
                db.reader = await open_reader(path, connect)
        except sqlite3.DatabaseError as exc:
            await conn.close()
            raise StoreError(f"the store is damaged or not a database ({exc})") from None
        except BaseException:
            await conn.close()
            raise
        return db

    async def _migrate(self, crypto: RowCrypto) -> bool:
        """Apply the migrations this store lacks, each in one transaction, with foreign
        keys still off (a rebuilt table's old copy is dropped without cascading).
        True if any ran."""
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise StoreError("the store was made by a newer alertnode; upgrade first")
        if 0 < version < len(MIGRATIONS):
            # The first start after an upgrade may take a while on a large store
            # (migration 17 copies the alerts table: about a minute at a million;
            # 18 copies the facets: 18 s at a million).
            log.info("upgrading the store from version %d to %d", version, len(MIGRATIONS))
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            if isinstance(step, str):
                await self.conn.executescript(
                    f"BEGIN;\n{step}\nPRAGMA user_version={number};\nCOMMIT;"
                )
                continue
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                await step(self.conn, crypto)
                if await self.conn.execute_fetchall("PRAGMA foreign_key_check"):
                    raise StoreError(f"migration {number} left rows that refer to nothing")
                await self.conn.execute(f"PRAGMA user_version={number}")
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")
        return version < len(MIGRATIONS)

    async def close(self, *, checkpoint: bool = True) -> None:
        """Close both connections; ``checkpoint=False`` when the files are about to be
        overwritten (a panic wipe), not merged."""
        reader, self.reader = self.reader, None
        if reader is not None:
            # First, so that no read holds the WAL while the writer truncates it.
            with contextlib.suppress(sqlite3.Error):
                await reader.close()
        if checkpoint:
            with contextlib.suppress(sqlite3.Error):
                await self.checkpoint()
        await self.conn.close()

    @contextlib.asynccontextmanager
    async def transaction(self, *, synced: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """A serialised IMMEDIATE transaction; rolled back if the block raises.

        A caller cancelled at BEGIN, COMMIT or ROLLBACK (a peer's worker stopped while
        it stores a batch) never leaves the connection inside a transaction: the
        statement runs to its end on the database thread either way, and a BEGIN
        whose caller went away is rolled back before the lock is released.

        ``synced=False`` commits this one transaction without waiting for the disk
        (synchronous=NORMAL, set and reset under the write lock, so no other
        transaction runs so): the write survives the process stopping or crashing and
        reaches the disk with the next synced commit or checkpoint, but a power cut
        before then can lose it. Only for data whose loss in a power cut is harmless.
        """
        async with self._write_lock, self._begin(synced) as conn:
            yield conn

    async def write(
        self, job: Callable[[sqlite3.Connection], T], *, synced: bool = True, quick: bool = False
    ) -> T:
        """``job(connection)`` as one whole IMMEDIATE transaction in one call on the
        database thread (BEGIN, the job, COMMIT; ROLLBACK if the job raises), under
        the same write lock and with the same ``synced`` meaning as ``transaction()``.

        For the small writes made on every request and every pull (a nonce, a peer's
        progress) and a pull's batch of new alerts: ``transaction()`` costs a hop
        across threads for each statement (five for an unsynced one), this costs one.
        Once started, the transaction runs to its end (committed or rolled back) even
        if the caller is cancelled.

        ``quick=True``, for an unsynced write of a few rows: while the database thread
        is idle and no write is under way, the transaction runs here and now on the
        event loop's thread (as ``quick_run`` does for reads), without a hop. On a
        relay every request and every stored alert makes such a write, and with a
        hundred nodes sharing two cores a hop cost several times the write itself
        (docs/benchmarks.md). Its COMMIT does not checkpoint; after MAX_QUICK_WRITES in
        a row, one goes to the thread, whose COMMIT does. A synced write always goes
        to the thread: the event loop never waits for the disk."""
        if quick and not synced and self._may_write_here():
            self._quick_writes += 1
            result = _whole(job, synced, self.conn._conn, checkpoint=False)
            self.unsynced = True
            return result
        async with self._write_lock:
            # Said before the COMMIT, so that no way out of here leaves it unsaid.
            self.unsynced = self.unsynced or not synced
            done = asyncio.ensure_future(on_thread(self.conn, partial(_whole, job, synced)))
            try:
                result = await asyncio.shield(done)
            except asyncio.CancelledError:
                with contextlib.suppress(sqlite3.Error):
                    await done
                raise
            # That COMMIT checkpointed the WAL if it had grown too long.
            self._quick_writes = 0
            if synced:
                self.unsynced = False
            return result

    async def flush(self) -> None:
        """Take every transaction committed so far to the disk: one synced write if any
        committed without waiting for it since the last synced one, else nothing. A
        node calls this between reading feed positions and telling them to a peer
        (``/changes``, ``/ids``): a position a power cut could take back would be
        given again to a later entry, which that peer, its cursor past it, would never
        read."""
        if self.unsynced:
            await self.write(_mark_flushed)

    def _may_write_here(self) -> bool:
        """True while a quick write may run on this thread: no write holds the lock,
        the database thread holds no call and none is queued, and the quick writes
        since the last write on the thread are fewer than MAX_QUICK_WRITES."""
        return (
            not self._write_lock.locked()
            and self._queued == self._finished
            and self._quick_writes < MAX_QUICK_WRITES
        )

    @contextlib.asynccontextmanager
    async def _begin(self, synced: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE, then COMMIT, or ROLLBACK if the block raises; the caller
        holds the write lock. Unsynced, the synchronous setting is lowered in the same
        hop as BEGIN and restored in the same hop as COMMIT or ROLLBACK."""
        begin = ("BEGIN IMMEDIATE",) if synced else ("PRAGMA synchronous=NORMAL", "BEGIN IMMEDIATE")
        reset = () if synced else ("PRAGMA synchronous=FULL",)
        try:
            await self._to_the_end(*begin)
        except asyncio.CancelledError:
            await self._to_the_end("ROLLBACK", *reset)
            raise
        except BaseException:
            # BEGIN failed (no transaction is open): the setting is restored all the same.
            if reset:
                await self._to_the_end(*reset)
            raise
        try:
            yield self.conn
        except BaseException:
            await self._to_the_end("ROLLBACK", *reset)
            raise
        self.unsynced = self.unsynced or not synced
        await self._to_the_end("COMMIT", *reset)
        if synced:
            self.unsynced = False

    async def _to_the_end(self, sql: str, *then: str) -> None:
        """Run ``sql`` (then each of ``then``, even if ``sql`` failed) in one hop to the
        database thread; if the caller is cancelled meanwhile, still wait for it to
        finish (then re-raise), so that the connection's transaction state is known."""
        done = asyncio.ensure_future(on_thread(self.conn, partial(_statements, sql, then)))
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            with contextlib.suppress(sqlite3.Error):
                await done
            raise

    # Reads run as one call on the reader's thread (or the database thread), so that
    # no statement stays open across an await: an open statement would make a
    # checkpoint wait for it, or fail as "locked".
    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Every row of ``sql`` as last committed."""
        return await self.run(partial(_fetch, sql, tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        return next(iter(await self.fetchall(sql, params)), None)

    async def quick(
        self, sql: str, params: Iterable[Any] = (), *, keys: int = 1
    ) -> list[sqlite3.Row]:
        """``fetchall`` for a read that an index answers in a few rows (by id, by key,
        a page of the log), as ``quick_run``."""
        return await self.quick_run(partial(_fetch, sql, tuple(params)), keys=keys)

    async def quick_one(
        self, sql: str, params: Iterable[Any] = (), *, keys: int = 1
    ) -> sqlite3.Row | None:
        """``fetchone`` as ``quick``."""
        return next(iter(await self.quick(sql, params, keys=keys)), None)

    async def quick_run(self, job: Callable[[sqlite3.Connection], T], *, keys: int = 1) -> T:
        """``run`` for a short read: while the database thread is idle, run ``job``
        here and now instead. ``keys``: how many ids or positions the read names; over
        QUICK_KEYS it goes to ``run`` whatever.

        A hop to the database thread and back costs about 0.2 ms of CPU (two thread
        switches and a wake-up of the event loop), twenty times a read by key; a relay
        made about twenty such hops for each alert it passed on. An idle thread holds
        no call in hand and none queued, so ``job`` sees just what it would have seen
        there (an open transaction included: it is the same connection); otherwise it
        goes to the reader (``run``) and sees committed rows. Not for a scan or
        anything slow: the event loop waits for it."""
        if keys > QUICK_KEYS or self._queued != self._finished:
            return await self.run(job)
        return job(self.conn._conn)

    async def committed(
        self, sql: str, params: Iterable[Any] = (), *, keys: int = 1
    ) -> list[sqlite3.Row]:
        """``quick`` for a read that must see committed rows only. The writer's
        connection is shared, so a read between the statements of a
        ``transaction()`` would see its rows before its COMMIT, and a ROLLBACK takes
        them back: a log position read so and told to a peer would be given again to
        a later entry, which that peer, its cursor past it, would never read. Every
        read of the log's positions is one.

        While no write is under way it runs as ``quick`` (no transaction is open
        then); while one is, on the reader, which sees the last COMMIT and does not
        wait for the write. A store without a reader waits for the write lock."""
        if self.reader is None:
            async with self._write_lock:
                return await self.quick(sql, params, keys=keys)
        if self._write_lock.locked():
            return await self.fetchall(sql, params)
        return await self.quick(sql, params, keys=keys)

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """``job(connection)`` as one call on the reader's thread, or the database
        thread when there is no reader: a read of many rows and the work on them.
        ``job`` must only read, and leave no statement open."""
        return await on_thread(self.reader or self.conn, job)

    async def checkpoint(self) -> None:
        """Move the WAL into the database and truncate it (after deletions).

        If SQLite cannot checkpoint right now, ``checkpoint_pending`` stays set and the
        next deletion or the hourly retention job tries again.
        """
        async with self._write_lock:
            try:
                # Read to its end: a checkpoint statement left open (its cursor not yet
                # collected) makes the next COMMIT fail with "statements in progress".
                await self.conn.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.OperationalError:
                self.checkpoint_pending = True
                return
            self.checkpoint_pending = False

    async def integrity_ok(self) -> bool:
        row = await self.fetchone("PRAGMA integrity_check")
        return row is not None and row[0] == "ok"
