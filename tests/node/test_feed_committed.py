"""A log position is read only once committed (docs/protocol.md section 10: a position
is never given twice).

The store's one connection is shared, so a read between the statements of an open
``transaction()`` would see its rows before COMMIT. A ROLLBACK takes them back, and the
next entry is given the same position (the log's AUTOINCREMENT is rolled back too): a
peer told that position, its cursor past it, would never read the entry given it
after. Every read of the log waits until no write transaction is open."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from node.store import Store
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


def _positions(result: Any) -> Any:
    return result if isinstance(result, int) else [row.pos for row in result]


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


@pytest.mark.parametrize("reader", READERS)
async def test_a_position_rolled_back_is_never_read(store: Store, reader: str) -> None:
    await store.alerts.put_batch([(alert(KEY_B, text="held"), 1, PEER)], NOW)
    read = READERS[reader]
    before = _positions(await read(store))
    with pytest.raises(RuntimeError):
        async with store.db.transaction() as conn:
            await conn.execute("INSERT INTO log (kind, id) VALUES ('a', ?)", (PHANTOM,))
            reading = asyncio.ensure_future(read(store))
            await _settle()
            # The database thread is idle between the statements: the read waits all
            # the same, for the transaction to end.
            assert not reading.done()
            raise RuntimeError("rolled back")
    assert _positions(await reading) == before


async def test_a_position_is_read_once_committed(store: Store) -> None:
    await store.alerts.put_batch([(alert(KEY_B, text="held"), 1, PEER)], NOW)
    async with store.db.transaction() as conn:
        await conn.execute("INSERT INTO log (kind, id) VALUES ('a', ?)", (PHANTOM,))
        reading = asyncio.ensure_future(store.alerts.feed(0, 10))
        head = asyncio.ensure_future(store.alerts.last_pos())
        await _settle()
        assert not reading.done() and not head.done()
    assert [row.pos for row in await reading] == [1, 2]
    assert await head == 2


async def test_the_position_rolled_back_is_given_again(store: Store) -> None:
    """Why the rule matters: the next entry takes the position a ROLLBACK took back."""
    with pytest.raises(RuntimeError):
        async with store.db.transaction() as conn:
            await conn.execute("INSERT INTO log (kind, id) VALUES ('a', ?)", (PHANTOM,))
            raise RuntimeError("rolled back")
    await store.alerts.put_batch([(alert(KEY_B, text="next"), 1, PEER)], NOW)
    assert [row.pos for row in await store.alerts.feed(0, 10)] == [1]
