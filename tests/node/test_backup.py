"""Backups: taken while the node works, restored whole, refused whole when damaged."""

from __future__ import annotations

import asyncio
import dataclasses
import struct
import threading
import time
from pathlib import Path

import pytest

from node import config as config_mod
from node.app import Node
from node.commands import client as control
from node.errors import NodeError, UsageError, WrongPassphrase
from node.ops import backup
from node.store.members import hash_passphrase
from tests.conftest import NodeFactory
from tests.federation.nodes import count_bodies, draft, eventually, has_alert, pair

PASSPHRASE = "backup passphrase 4471"
LOAD_ALERTS = 40
OVERLAP_WRITES = 5
HOLD_TIMEOUT_S = 30.0


async def _take(node: Node, out: Path) -> dict[str, object]:
    return await control.call(node.data_dir, "backup.create", {"out": str(out)})


async def _start(data: Path, passphrase: str | None = PASSPHRASE) -> Node:
    node = Node(data, config_mod.load(data))
    await node.start(passphrase)
    return node


async def _snapshot_of(node: Node) -> dict[str, object]:
    store = node.unlocked().store
    feed = await store.alerts.feed(0, 100_000)
    ids = [row.id for row in feed]
    return {
        "feed": [(row.pos, row.kind, row.id) for row in feed],
        "envelopes": await store.alerts.get_envelopes(ids, node.clock.now()),
        "members": [dataclasses.astuple(m) for m in await store.members.list()],
        "peers": [(p.key, p.name, p.urls, p.accept, p.share) for p in await store.peers.list()],
        "settings": await store.settings.all(),
        "reports": len(await store.reports.list()),
    }


async def test_backup_under_load_restores_an_identical_node(
    make_node: NodeFactory, short_tmp: Path
) -> None:
    a = await make_node("A", passphrase=PASSPHRASE)
    b = await make_node("B")
    await pair(a, b)
    unlocked = a.unlocked()
    store, service = unlocked.store, unlocked.alerts
    now = a.clock.now()
    code = await store.members.create_invite("caseworker", now + 3600, now)
    member = await store.members.redeem_invite(code, "BackupNick", hash_passphrase("x" * 12), now)
    await store.reports.create(member.id, {"text": "a report kept in the backup"}, now)
    await store.settings.put("report_retention_days", 30)
    first = await service.publish(draft(0, phone="07700 900321"))
    await eventually(lambda: has_alert(b, first))

    # The load writes OVERLAP_WRITES alerts, then the backup starts; the backup holds
    # after its snapshot until the load has committed OVERLAP_WRITES more, so writes
    # overlap the backup by construction, not by timing.
    load_running = asyncio.Event()
    snapshot_taken, overlapped = threading.Event(), threading.Event()
    backup_over = asyncio.Event()  # ends the load even if the backup did not hold
    commits: list[float] = []  # when each load alert was committed (monotonic)

    async def load() -> None:
        n, after_snapshot = 1, 0
        while n <= LOAD_ALERTS or not (overlapped.is_set() or backup_over.is_set()):
            await service.publish(draft(n))
            commits.append(time.monotonic())
            if snapshot_taken.is_set():
                after_snapshot += 1
                if after_snapshot >= OVERLAP_WRITES:
                    overlapped.set()
            if n == OVERLAP_WRITES:
                load_running.set()
            n += 1

    def hold_until_overlapped() -> None:
        snapshot_taken.set()
        if not overlapped.wait(HOLD_TIMEOUT_S):
            raise AssertionError("the load wrote nothing while the backup was held")

    out = short_tmp / "a.backup"
    publishing = asyncio.create_task(load())
    await load_running.wait()
    started = time.monotonic()
    result = await asyncio.to_thread(
        backup.create,
        a.data_dir,
        a.unlocked().keys.data_key,
        out,
        now,
        after_snapshot=hold_until_overlapped,
    )
    ended = time.monotonic()
    backup_over.set()
    await publishing
    during = sum(1 for t in commits if started < t < ended)
    print(
        f"backup under load: {result['bytes']} bytes, {result['alerts']} alerts, "
        f"{ended - started:.3f} s, {during} of {len(commits)} load alerts committed during it"
    )
    assert sum(1 for t in commits if t < started) >= OVERLAP_WRITES
    assert during >= OVERLAP_WRITES
    before = await _snapshot_of(a)
    assert out.stat().st_mode & 0o777 == 0o600
    assert b"backup" not in out.read_bytes()[len(backup.MAGIC) :]

    restored_dir = short_tmp / "restored"
    restored = await backup.restore(out, restored_dir, PASSPHRASE)
    a2 = await _start(restored_dir)
    try:
        after = await _snapshot_of(a2)
        # The snapshot is one consistent moment: exactly the log up to its position.
        cut = int(result["log_position"])  # type: ignore[call-overload]
        assert 1 <= cut <= (await a.unlocked().store.alerts.last_pos())
        expected_feed = [entry for entry in before["feed"] if entry[0] <= cut]  # type: ignore[attr-defined]
        assert after["feed"] == expected_feed
        # Alerts committed after the snapshot (while the backup ran) are not in it.
        assert len(before["feed"]) - len(expected_feed) >= OVERLAP_WRITES  # type: ignore[arg-type]
        assert restored["alerts"] == len(expected_feed) == result["alerts"]
        ids = {entry[2] for entry in expected_feed}
        assert after["envelopes"] == {
            k: v
            for k, v in before["envelopes"].items()  # type: ignore[attr-defined]
            if k in ids
        }
        for part in ("members", "peers", "settings", "reports"):
            assert after[part] == before[part], part
        assert await a2.unlocked().store.epoch() != await store.epoch()
        assert a2.config == a.config
        assert (await a2.unlocked().alerts.check("phone", "+447700900321"))["matches"] == 1
    finally:
        await a2.stop()


async def test_a_peer_resyncs_with_the_restored_node_without_bodies(
    make_node: NodeFactory, short_tmp: Path
) -> None:
    a = await make_node("A", passphrase=PASSPHRASE)
    b = await make_node("B")
    await pair(a, b)
    ids = [await a.unlocked().alerts.publish(draft(n)) for n in range(5)]
    await eventually(lambda: has_alert(b, ids[-1]))
    out = short_tmp / "a.backup"
    await _take(a, out)
    await a.stop()
    await backup.restore(out, short_tmp / "a2", PASSPHRASE)
    a2 = await _start(short_tmp / "a2")
    try:
        seen = count_bodies([b])
        # A's address changed (ephemeral port): its admin gives B the card again.
        await b.unlocked().trust.add_peer(a2.unlocked().trust.card(), "relay", True, None)
        fresh = await a2.unlocked().alerts.publish(draft(99))
        await eventually(lambda: has_alert(b, fresh))
        await b.unlocked().trust.sync_now()
        assert [item for (_, _, item) in seen] == [fresh]
        peer = await b.unlocked().store.peers.get(bytes.fromhex(a2.config.key))
        assert peer is not None and peer.epoch == await a2.unlocked().store.epoch()
    finally:
        await a2.stop()


def _chunk_offsets(data: bytes) -> list[int]:
    """Where each sealed chunk starts."""
    size = struct.unpack(">I", data[len(backup.MAGIC) : len(backup.MAGIC) + 4])[0]
    offset = len(backup.MAGIC) + 4 + size
    offsets = []
    while offset < len(data):
        offsets.append(offset)
        offset += 4 + struct.unpack(">I", data[offset : offset + 4])[0]
    assert offset == len(data)
    return offsets


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


async def test_damaged_backups_are_refused_and_write_nothing(
    make_node: NodeFactory, short_tmp: Path
) -> None:
    a = await make_node("A", passphrase=PASSPHRASE)
    for n in range(3):
        await a.unlocked().alerts.publish(draft(n))
    out = short_tmp / "a.backup"
    await _take(a, out)
    good = out.read_bytes()
    chunks = _chunk_offsets(good)
    assert len(chunks) >= 2
    header_end = chunks[0]
    variants = {
        "truncated mid-chunk": good[: chunks[1] + 100],
        "final chunk missing": good[: chunks[-1]],
        "header only": good[:header_end],
        "empty": b"",
        "header changed": _flip(good, header_end - 3),
        "body changed": _flip(good, chunks[0] + 50),
        "final chunk changed": _flip(good, len(good) - 5),
        "chunks swapped": good[: chunks[0]]
        + good[chunks[1] : chunks[2]]
        + good[chunks[0] : chunks[1]]
        + good[chunks[2] :],
        "bytes after the end": good + b"\0" * 16,
    }
    for empty_dir in (False, True):
        target = short_tmp / "target"
        if empty_dir:
            target.mkdir()
        for label, data in variants.items():
            bad = short_tmp / "bad.backup"
            bad.write_bytes(data)
            before = sorted(p.name for p in short_tmp.iterdir())
            with pytest.raises(UsageError) as caught:
                await backup.restore(bad, target, PASSPHRASE)
            assert "nothing was restored" in caught.value.message or (
                "not an alertnode backup" in caught.value.message
            ), label
            assert sorted(p.name for p in short_tmp.iterdir()) == before, label
            assert target.exists() == empty_dir, label
            if empty_dir:
                assert list(target.iterdir()) == [], label
    with pytest.raises(WrongPassphrase):
        await backup.restore(out, short_tmp / "t2", "not the passphrase")
    assert not (short_tmp / "t2").exists()
    # The good file still restores.
    await backup.restore(out, short_tmp / "t3", PASSPHRASE)
    assert (short_tmp / "t3" / "keys.bin").exists()


async def test_restore_refuses_a_directory_that_is_not_empty(
    make_node: NodeFactory, short_tmp: Path
) -> None:
    a = await make_node("A", passphrase=PASSPHRASE)
    out = short_tmp / "a.backup"
    await _take(a, out)
    with pytest.raises(UsageError, match="not empty"):
        await backup.restore(out, a.data_dir, PASSPHRASE)
    with pytest.raises(NodeError, match="already exists"):
        await _take(a, out)


async def test_a_key_file_node_refuses_to_back_up(make_node: NodeFactory, short_tmp: Path) -> None:
    node = await make_node("Dev")
    with pytest.raises(NodeError, match="test mode"):
        await _take(node, short_tmp / "dev.backup")
    assert not (short_tmp / "dev.backup").exists()
    assert not [p for p in node.data_dir.iterdir() if p.name.startswith(".backup")]


async def test_a_locked_node_refuses_to_back_up(make_node: NodeFactory, short_tmp: Path) -> None:
    node = await make_node("A", passphrase=PASSPHRASE)
    await asyncio.sleep(0.01)  # let its jobs start before it stops
    locked = await make_node.restart(node)  # type: ignore[attr-defined]
    assert locked.locked
    with pytest.raises(NodeError, match="locked"):
        await _take(locked, short_tmp / "x.backup")
