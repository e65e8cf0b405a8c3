"""Data sets several benchmarks share within one run: built once, removed at the end.

A "pair" is two up-to-date nodes A and B holding the same ``n`` alerts: A holds them
as relayed to it, B as received from A, each has the other on its trust list, and
each one's cursor on the other is at the other's head. Twenty real phone numbers are
blinded (Argon2id, once each) and each appears in three alerts, for the checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from node.app import Node
from node.keys import keystore, tls

from .data import BENCH_NETWORK_KEY, blind_phones, bulk_insert, make_alerts
from .nodes import card_for, free_port, make_dir, node_key, open_store, start_node
from .proxy import CountingProxy
from .pull import RELAY_KEY
from .report import note

PHONES_HIT = tuple(f"+44 7700 900{i:03d}" for i in range(20))
PHONES_MISS = tuple(f"+44 7700 901{i:03d}" for i in range(20))
COPIES_PER_PHONE = 3


@dataclass
class Pair:
    n: int
    root: Path
    a_dir: Path
    b_dir: Path
    build_s: float
    hits: dict[str, bytes] = field(default_factory=dict)
    a_bytes: int = 0


_pairs: dict[int, Pair] = {}


async def pair_at(n: int) -> Pair:
    """The pair of up-to-date nodes holding ``n`` alerts (built on first use)."""
    if n in _pairs:
        return _pairs[n]
    t0 = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix=f"anb-{n}-", dir="/tmp"))
    note(f"data: blinding {len(PHONES_HIT)} phone numbers (Argon2id, once each)")
    hits = blind_phones(PHONES_HIT)
    extra = {}
    for i, number in enumerate(PHONES_HIT):
        for c in range(COPIES_PER_PHONE):
            extra[(i * COPIES_PER_PHONE + c) * (n // (len(PHONES_HIT) * COPIES_PER_PHONE))] = hits[
                number
            ]
    note(f"data: signing {n} alerts")
    now = int(time.time())
    alerts = make_alerts(n, now, extra=extra)
    a_dir, b_dir = await make_dir(root, "A"), await make_dir(root, "B")
    for data in (a_dir, b_dir):  # one network: both hold the key the hits were blinded with
        keystore.save_network_keys(data, keystore.unlock(data, None).data_key, (BENCH_NETWORK_KEY,))
    a_key, b_key = node_key(a_dir), node_key(b_dir)
    sa, sb = await open_store(a_dir), await open_store(b_dir)
    note(f"data: loading {n} alerts into A and B")
    await asyncio.gather(
        bulk_insert(sa, alerts, hops=1, received_from=RELAY_KEY, now=now),
        bulk_insert(sb, alerts, hops=2, received_from=a_key, now=now),
    )
    del alerts
    for mine, other_dir, other_key in ((sa, b_dir, b_key), (sb, a_dir, a_key)):
        await mine.peers.add(
            other_key,
            other_dir.name,
            (f"https://{_fed(other_dir)}",),
            tls.pins(other_dir),
            accept="relay",
            share=True,
            proxy=None,
            now=now,
        )
    for mine, theirs, key in ((sa, sb, b_key), (sb, sa, a_key)):
        head = await theirs.alerts.last_pos()
        await mine.peers.save_progress(
            key, epoch=await theirs.alerts.epoch(), cursor=head, received=0, lag=0, now=now
        )
    await sa.close()
    await sb.close()
    pair = Pair(n, root, a_dir, b_dir, time.perf_counter() - t0, hits)
    pair.a_bytes = (a_dir / "store.db").stat().st_size
    note(f"data: pair of {n} built in {pair.build_s:.1f} s")
    _pairs[n] = pair
    return pair


def _fed(data: Path) -> str:
    from node import config as config_mod

    return config_mod.load(data).fed


@dataclass
class Running:
    a: Node
    b: Node
    proxy: CountingProxy
    a_key: bytes


@contextlib.asynccontextmanager
async def running(pair: Pair) -> AsyncIterator[Running]:
    """A and B in this process; B reaches A through a counting proxy."""
    host, port = _fed(pair.a_dir).rsplit(":", 1)
    proxy = CountingProxy(host, int(port))
    await proxy.start()
    a = b = None
    try:
        a = await start_node(pair.a_dir)
        b = await start_node(pair.b_dir)
        pb = b.unlocked().trust
        # Re-adding keeps policy and cursor; only the URL changes (to the proxy).
        await pb.add_peer(card_for(pair.a_dir, proxy.url), "relay", True, None)
        yield Running(a, b, proxy, node_key(pair.a_dir))
    finally:
        if b is not None:
            await b.stop()
        if a is not None:
            await a.stop()
        await proxy.stop()


def cleanup() -> None:
    for pair in _pairs.values():
        shutil.rmtree(pair.root, ignore_errors=True)
    _pairs.clear()


__all__ = ["Pair", "Running", "cleanup", "free_port", "pair_at", "running"]
