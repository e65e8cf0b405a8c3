"""A log position is read only once committed (docs/protocol.md section 10: a position
is never given twice).

The writer's connection is shared, so a read between the statements of an open
``transaction()`` would see its rows before COMMIT. A ROLLBACK takes them back, and the
next entry is given the same position (the log's AUTOINCREMENT is rolled back too): a
peer told that position, its cursor past it, would never read the entry given it
after. While a write transaction is open, every read of the log goes to the store's
reader, which sees the last COMMIT; a store in memory (no reader) waits until the
transaction ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from node.keys.crypto import RowCrypto
from node.store import Store
from node.store.db import Database
from tests.node.test_store import KEY_B, NOW, alert

PEER = b"\x01" * 32
PHANTOM = b"\x05" * 32

Reader = Callable[[Store], Awaitable[Any]]
READERS: dict[str, Reader] = {
    "feed": lambda s: s.alerts.feed(0, 10),
    "last_pos": lambda s: s.alerts.last_pos(),
    "rows_at": lambda s: s.alerts.rows_at([1, 2]),
    "rows_by_id": lambda s: s.alerts.rows_by_id([PHANTOM]),
    "ids_after": lambda s: s.alerts.ids_after(None, 10),
}


@pytest.fixture(params=["file", "memory"])
async def either(store: Store, request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """The store in a file (with its reader), or one in memory (without)."""
    if request.param == "file":
        assert store.db.reader is not None
        yield store
        return
    crypto = RowCrypto(b"\x01" * 32)
    memory = Store(await Database.open(Path(":memory:"), crypto), crypto)
    assert memory.db.reader is None
    yield memory
    await memory.close()


def _positions(result: Any) -> Any:
    return result if isinstance(result, int) else [row.pos for row in result]


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


@pytest.mark.parametrize("reader", READERS)
async def test_a_position_rolled_back_is_never_read(either: Store, reader: str) -> None:
    store = either
    await store.alerts.put_batch([(alert(KEY_B, text="held"), 1, PEER)], NOW)
    read = READERS[reader]
    before = _positions(await read(store))
    with pytest.raises(RuntimeError):
        async with store.db.transaction() as conn:
            await conn.execute("INSERT INTO log (kind, id) VALUES ('a', ?)", (PHANTOM,))
            reading = asyncio.ensure_future(read(store))
            if store.db.reader is not None:
                # The reader sees the last COMMIT, at once.
                assert _positions(await asyncio.wait_for(reading, 5)) == before
            else:
                # The database thread is idle between the statements: the read waits
                # all the same, for the transaction to end.
                await _settle()
                assert not reading.done()
            raise RuntimeError("rolled back")
    assert _positions(await reading) == before
    assert _positions(await read(store)) == before


async def test_a_position_is_read_once_committed(either: Store) -> None:
    store = either
    await store.alerts.put_batch([(alert(KEY_B, text="held"), 1, PEER)], NOW)
    async with store.db.transaction() as conn:
        await conn.execute("INSERT INTO log (kind, id) VALUES ('a', ?)", (PHANTOM,))
        reading = asyncio.ensure_future(store.alerts.feed(0, 10))
        head = asyncio.ensure_future(store.alerts.last_pos())
        if store.db.reader is not None:
            assert [row.pos for row in await asyncio.wait_for(reading, 5)] == [1]
            assert await asyncio.wait_for(head, 5) == 1
        else:
            await _settle()
            assert not reading.done() and not head.done()
    if store.db.reader is None:
        assert [row.pos for row in await reading] == [1, 2]
        assert await head == 2
    assert [row.pos for row in await store.alerts.feed(0, 10)] == [1, 2]
    assert await store.alerts.last_pos() == 2


async def test_the_position_rolled_back_is_given_again(store: Store) -> None:
    """Why the rule matters: the next entry takes the position a ROLLBACK took back."""
    with pytest.raises(RuntimeError):
        async with store.db.transaction() as conn:
            await conn.execute("INSERT INTO log (kind, id) VALUES ('a', ?)", (PHANTOM,))
            raise RuntimeError("rolled back")
    await store.alerts.put_batch([(alert(KEY_B, text="next"), 1, PEER)], NOW)
    assert [row.pos for row in await store.alerts.feed(0, 10)] == [1]
