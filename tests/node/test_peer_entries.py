"""Trust-list entries have an id that outlives key rotations and is never reused (rate
limits, replay windows and the rotation limit bind to it), including entries made
before the id existed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from node.keys.crypto import RowCrypto
from node.store import Store
from node.store.peers import PeerStore
from node.store.schema import MIGRATIONS

NOW = 1_790_000_000
DATA_KEY = b"\x01" * 32
DAY_S = 86400


def key(i: int) -> bytes:
    return bytes([i]) * 32


async def add(store: Store, i: int, now: int = NOW) -> int:
    peer = await store.peers.add(
        key(i), f"peer {i}", ("https://x.example",), (bytes(32),),
        accept="relay", share=True, proxy=None, now=now,
    )  # fmt: skip
    return peer.entry_id


@pytest.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = await Store.open(tmp_path, DATA_KEY)
    yield s
    await s.close()


async def test_entry_ids_are_stable_and_never_reused(store: Store) -> None:
    assert [await add(store, i) for i in (1, 2, 3)] == [1, 2, 3]
    assert await add(store, 1) == 1  # a refreshed card keeps its entry
    await store.peers.remove(key(3))
    assert await add(store, 4) == 4  # not 3 again: a removed peer's id stays retired
    moved = await store.peers.accept_rotation(
        key(2), key(9), rotated_at=NOW, now=NOW, min_interval_s=DAY_S
    )
    assert moved is None
    peer = await store.peers.get(key(9))
    assert peer is not None and peer.entry_id == 2 and peer.previous == (key(2),)


async def test_one_rotation_a_day_per_entry(store: Store) -> None:
    await add(store, 1)

    async def rotate(old: int, new: int, now: int) -> int | None:
        return await store.peers.accept_rotation(
            key(old), key(new), rotated_at=NOW, now=now, min_interval_s=DAY_S
        )

    assert await rotate(1, 2, NOW) is None
    assert await rotate(2, 3, NOW + DAY_S - 1) == NOW
    assert await store.peers.get(key(3)) is None
    assert await rotate(2, 3, NOW + DAY_S) is None
    # A statement for a key no entry has any more (a race lost) is refused as too soon.
    assert await rotate(1, 4, NOW + DAY_S) == NOW + DAY_S


async def test_entries_made_before_the_id_existed_get_one(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    sealer = PeerStore(None, RowCrypto(DATA_KEY))  # type: ignore[arg-type]
    for i, added in ((5, NOW + 10), (6, NOW), (7, NOW + 10)):
        card = sealer._seal_card(key(i), f"peer {i}", (), (bytes(32),))
        db.execute(
            "INSERT INTO peers (key, name_tag, card_enc, accept, share, added)"
            " VALUES (?, ?, ?, 'relay', 1, ?)",
            (key(i), bytes(32), card, added),
        )
    db.close()
    store = await Store.open(tmp_path, DATA_KEY)
    try:
        ids = {p.key: p.entry_id for p in await store.peers.list()}
        assert ids == {key(6): 1, key(5): 2, key(7): 3}  # in the order they were added
        assert await add(store, 8) == 4
    finally:
        await store.close()
