"""Footprint: a node holding 10k, 100k and 1M alerts, as ``alertnode run`` in its own
process.

Start-up time is from spawning the process until its control socket reports it
unlocked with federation listening. Peak RSS (VmHWM) is read after it served member
checks (through the control socket, so blinding runs in the node) while a new peer
pulled 5,000 alerts from it; that pull's own time is the catch-up from a node of this
size (``catchup_s``, with the checks running beside it).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time

from .nodes import NodeProcess, card_for, make_dir, node_key, start_node
from .report import emit, note
from .shared import PHONES_HIT, PHONES_MISS, pair_at

FULL_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (2_000,)
TARGET_MB = 200.0
CHECKS = 40
PULLED_ALERTS = 5_000


async def run(quick: bool) -> None:
    for n in QUICK_SIZES if quick else FULL_SIZES:
        await one_size(n)


async def one_size(n: int) -> None:
    pair = await pair_at(n)
    proc = NodeProcess(pair.a_dir)
    c = None
    try:
        await proc.start()
        rss_ready = proc.rss_kib()
        note(f"footprint: node with {n} alerts ready in {proc.ready_s:.2f} s")
        # A new peer C whose cursor stands PULLED_ALERTS before A's head.
        c_dir = await make_dir(pair.root, f"C{int(time.time())}")
        c = await start_node(c_dir)
        pc = c.unlocked().trust
        await proc.call("peer.add", {"card": pc.card(), "accept": "relay"})
        await pc.add_peer(card_for(pair.a_dir), "none", True, None)
        status = await proc.call("status")
        head = int(status["counts"]["log_position"])  # type: ignore[index]
        a_key = node_key(pair.a_dir)
        store_c = c.unlocked().store
        await pc.set_peer("A", accept="relay")
        await store_c.peers.save_progress(
            a_key,
            epoch=_epoch_of(proc),
            cursor=max(0, head - PULLED_ALERTS),
            received=0,
            lag=0,
            now=int(time.time()),
        )

        async def checks() -> list[float]:
            out = []
            numbers = [x for ab in zip(PHONES_HIT, PHONES_MISS, strict=True) for x in ab]
            for i in range(CHECKS):
                t0 = time.perf_counter()
                await proc.call("check", {"kind": "phone", "value": numbers[i % len(numbers)]})
                out.append(time.perf_counter() - t0)
            return out

        sent0 = pc.transport.bytes_sent + pc.transport.bytes_received

        async def catch_up() -> tuple[list[dict[str, object]], float]:
            t0 = time.perf_counter()
            results = await pc.sync_now()
            return results, time.perf_counter() - t0

        t0 = time.perf_counter()
        (pulled, catchup_s), timings = await asyncio.gather(catch_up(), checks())
        busy_s = time.perf_counter() - t0
        payload = pc.transport.bytes_sent + pc.transport.bytes_received - sent0
        stored = sum(r["stored"] for r in pulled)
        peak = proc.peak_rss_kib()
        ready_s = proc.ready_s
    finally:
        if c is not None:
            await c.stop()
        await proc.stop()
    mb = peak / 1024
    detail = {
        "alerts": n,
        "store_mb": round(pair.a_bytes / 1e6, 1),
        "rss_at_ready_mb": round(rss_ready / 1024, 1),
        "checks": len(timings),
        "pulled_by_peer": stored,
        "busy_s": round(busy_s, 2),
    }
    emit(f"footprint.{n}.peak_rss", mb, "MB", target=TARGET_MB, detail=detail)
    emit(f"footprint.{n}.startup", ready_s, "s", detail=detail)
    pulled_detail = {
        **detail,
        "payload_bytes": payload,
        "note": f"a new peer pulls {PULLED_ALERTS} alerts while {CHECKS} checks run",
    }
    emit(
        f"footprint.{n}.catchup_s",
        catchup_s if stored else None,
        "s",
        detail=pulled_detail,
    )


def _epoch_of(proc: NodeProcess) -> bytes:
    """A's feed epoch, read beside the running node (SQLite WAL allows a reader)."""
    conn = sqlite3.connect(f"file:{proc.data / 'store.db'}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE name = 'epoch'").fetchone()
    finally:
        conn.close()
    return bytes(row[0])
