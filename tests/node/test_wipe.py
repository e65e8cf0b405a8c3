"""Panic wipe: keys and database gone, nothing decryptable, no canary in any file."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from node.commands import client as control
from node.errors import NodeError, NotANode, UsageError
from node.keys import keystore
from node.ops import wipe
from node.service import Draft
from node.store.members import hash_passphrase
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually, has_alert, pair
from tests.node.test_canary import DESCRIPTION, NICK, PASSPHRASE, PHONE_RAW, SENTENCE, scan

ADMIN = "wipe passphrase 0042"
# Distinctive bytes stored in clear (a meta row), so they can be found in any file.
WAL_CANARY = b"wal-canary-5f1c9e0b7a2d4e86"


async def _plant_in_wal(node: object, canary: bytes) -> None:
    """Commit ``canary`` in clear through the node's own connection, without a
    checkpoint: it is then in store.db-wal and not yet in store.db."""
    store = node.unlocked().store
    async with store.db.transaction() as conn:
        await conn.execute("INSERT INTO meta (name, value) VALUES ('wal_canary', ?)", (canary,))


async def _fill(node: object) -> None:
    """Put every kind of canary into the node's store."""
    unlocked = node.unlocked()
    store, service = unlocked.store, unlocked.alerts
    now = node.clock.now()  # type: ignore[attr-defined]
    code = await store.members.create_invite("member", now + 3600, now)
    member = await store.members.redeem_invite(code, NICK, hash_passphrase(PASSPHRASE), now)
    await store.reports.create(member.id, {"text": SENTENCE, "phone": PHONE_RAW}, now)
    await service.publish(
        Draft(
            categories=["violence"],
            danger=3,
            region="GB",
            indicators=[("phone", PHONE_RAW)],
            description=DESCRIPTION,
        )
    )


def _assert_destroyed(data: Path) -> None:
    left = sorted(p.name for p in data.iterdir())
    for name in (*wipe.KEY_FILES, *wipe.DB_FILES, "node.json"):
        assert name not in left, name
    assert set(left) <= {"lock"}, left
    assert all(p.stat().st_size == 0 for p in data.iterdir())
    assert scan(data) == []
    with pytest.raises(NotANode):
        keystore.unlock(data, ADMIN)


async def test_wipe_of_a_running_node_during_sync(make_node: NodeFactory) -> None:
    a = await make_node("A", passphrase=ADMIN)
    b = await make_node("B")
    await pair(a, b)
    await _fill(a)
    first = await b.unlocked().alerts.publish(draft(0))
    await eventually(lambda: has_alert(a, first))
    stop_load = asyncio.Event()

    async def load() -> None:
        n = 1
        while not stop_load.is_set():
            await b.unlocked().alerts.publish(draft(n))
            n += 1
            await asyncio.sleep(0.005)

    publishing = asyncio.create_task(load())
    await asyncio.sleep(0.2)
    # A canary committed just before the wipe sits in the WAL only (no checkpoint
    # since), in clear: the wipe must destroy the WAL as well as the database.
    await _plant_in_wal(a, WAL_CANARY)
    assert WAL_CANARY in (a.data_dir / "store.db-wal").read_bytes()
    assert WAL_CANARY not in (a.data_dir / "store.db").read_bytes()
    started = time.monotonic()
    result = await control.call(a.data_dir, "wipe", {"confirm": True})
    elapsed = time.monotonic() - started
    print(f"wipe of a running node during sync: {elapsed:.3f} s, {result['files']} files")
    stop_load.set()
    await publishing
    assert result["wiped"] is True
    assert a.stopped.is_set() and a.locked
    await a.stop()
    _assert_destroyed(a.data_dir)
    assert [p.name for p in a.data_dir.rglob("*") if WAL_CANARY in p.read_bytes()] == []
    # The other node carries on.
    assert not b.locked


async def test_wipe_of_a_locked_node(make_node: NodeFactory) -> None:
    a = await make_node("A", passphrase=ADMIN)
    await _fill(a)
    await asyncio.sleep(0.01)
    locked = await make_node.restart(a)  # type: ignore[attr-defined]
    assert locked.locked
    with pytest.raises(NodeError, match="--yes"):
        await control.call(locked.data_dir, "wipe", {})
    assert (locked.data_dir / "keys.bin").exists()
    await control.call(locked.data_dir, "wipe", {"confirm": True})
    await locked.stop()
    _assert_destroyed(locked.data_dir)


async def test_offline_wipe_of_a_stopped_node(make_node: NodeFactory) -> None:
    a = await make_node("A", passphrase=ADMIN)
    await _fill(a)
    await a.stop()
    # Leave a WAL and journal behind as a crash would.
    (a.data_dir / "store.db-journal").write_bytes(SENTENCE.encode())
    (a.data_dir / "store.db-wal").write_bytes(SENTENCE.encode() * 10)
    (a.data_dir / "sub").mkdir()
    (a.data_dir / "sub" / "x").write_bytes(DESCRIPTION.encode())
    assert scan(a.data_dir)
    result = wipe.wipe_offline(a.data_dir)
    print(f"offline wipe: {result['seconds']} s, {result['files']} files")
    assert not any(a.data_dir.iterdir())
    assert scan(a.data_dir) == []


def test_shred_does_not_follow_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"keep me")
    data = tmp_path / "data"
    data.mkdir()
    (data / "keys.bin").symlink_to(outside)
    wipe.wipe_offline(data)
    assert outside.read_bytes() == b"keep me"
    assert not any(data.iterdir())


def test_wipe_refuses_without_yes_and_outside_a_node(tmp_path: Path) -> None:
    from node.commands.cli import build_parser, run

    def wipe(*flags: str) -> int:
        ns = build_parser().parse_args(["wipe", "--data", str(tmp_path), *flags])
        return asyncio.run(run(ns.row, ns))

    (tmp_path / "precious.txt").write_text("not a node")
    with pytest.raises(UsageError, match="--yes"):
        wipe()
    with pytest.raises(UsageError, match="holds no alertnode node"):
        wipe("--yes")
    assert (tmp_path / "precious.txt").read_text() == "not a node"
