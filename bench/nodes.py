"""Real nodes for the benchmarks: in-process (``Node``) or as an ``alertnode run`` child.

Rule: a benchmark node is made by ``init_node`` and run by the production ``Node``;
the only difference from a deployed node is loopback addresses and the data it was
bulk-loaded with (bench.data). Everything started here is stopped by its owner.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from federation.trust import Peer
from node import config as config_mod
from node.app import Node
from node.commands import client as control
from node.errors import NodeError
from node.keys import keystore
from node.ops.initialise import card_text, init_node
from node.store import Store
from tests.ports import free_port

READY_TIMEOUT_S = 120.0


async def make_dir(root: Path, name: str, fed_port: int | None = None) -> Path:
    """A new node data directory with a fixed federation port (so its card is known):
    ``fed_port``, or one that was free a moment ago."""
    data = root / name
    await init_node(
        data,
        name=name,
        web="127.0.0.1:0",
        fed=f"127.0.0.1:{fed_port or free_port()}",
        public_url=None,
        region="GB",
        passphrase=None,
    )
    return data


async def open_store(data: Path) -> Store:
    """The store of a node that is not running (key-file mode)."""
    return await Store.open(data, keystore.unlock(data, None).data_key)


def node_key(data: Path) -> bytes:
    return bytes.fromhex(config_mod.load(data).key)


def card_for(data: Path, url: str | None = None) -> str:
    """The card of the node in ``data``, optionally naming another URL (a proxy)."""
    cfg = config_mod.load(data)
    if url is not None:
        cfg = dataclasses.replace(cfg, public_url=url)
    return card_text(data, cfg, keystore.unlock(data, None).signing_key)


async def start_node(data: Path) -> Node:
    node = Node(data, config_mod.load(data))
    await node.start(None)
    return node


def time_arrivals(node: Node, arrived: Callable[[bytes, float], None]) -> None:
    """Call ``arrived(alert id, perf_counter)`` as ``node``'s store commits each item new
    to it (wraps this instance's put_batch, which publishing and the sync path share)."""
    alerts = node.unlocked().store.alerts
    put = alerts.put_batch

    async def timed_put(items, now, **kw):  # type: ignore[no-untyped-def]
        stored = await put(items, now, **kw)
        at = time.perf_counter()
        for (item, _, _), new in zip(items, stored, strict=True):
            if new:
                arrived(item.id, at)
        return stored

    alerts.put_batch = timed_put  # type: ignore[method-assign]


MISHAPS = ("pulls_failed", "connections_evicted", "connections_timed_out")


def mishaps(node: Node) -> Counter[str]:
    """What went wrong on ``node`` so far: its failed pulls, and the connections its
    federation port pushed out (a cap reached) or closed at a deadline."""
    trust = node.unlocked().trust
    table = trust.site.table if trust.site is not None else None
    return Counter(
        pulls_failed=trust.syncer.pulls_failed,
        connections_evicted=table.evicted if table is not None else 0,
        connections_timed_out=table.timed_out if table is not None else 0,
    )


async def pair(a: Node, b: Node) -> None:
    pa, pb = a.unlocked().trust, b.unlocked().trust
    await pa.add_peer(pb.card(), "relay", True, None)
    await pb.add_peer(pa.card(), "relay", True, None)


async def peer_of(node: Node, key: bytes) -> Peer:
    store = node.unlocked().store
    peer = await store.peers.get(key)
    assert peer is not None
    return peer


class NodeProcess:
    """``alertnode run`` in a child process; ready when its control socket says unlocked."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_s = 0.0

    async def start(self) -> None:
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "run", "--data", str(self.data)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = t0 + READY_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the node on {self.data} exited with {self.proc.returncode}")
            try:
                status = await control.call(self.data, "status")
                if not status.get("locked") and status.get("federation"):
                    break
            except NodeError:
                pass
            if time.perf_counter() > deadline:
                raise RuntimeError(f"the node on {self.data} was not ready in time")
            await asyncio.sleep(0.02)
        self.ready_s = time.perf_counter() - t0

    async def call(self, name: str, args: dict[str, object] | None = None) -> dict[str, object]:
        return await control.call(self.data, name, args)

    def peak_rss_kib(self) -> int:
        """VmHWM: the child's peak resident set so far."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def rss_kib(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    async def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            await control.call(self.data, "stop")
        except NodeError:
            self.proc.terminate()
        for _ in range(200):
            if self.proc.poll() is not None:
                return
            await asyncio.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
