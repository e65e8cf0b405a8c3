"""Member check: latency of ``AlertService.check`` at 10k and 1M stored alerts.

Split into its two parts, each timed on its own: blinding (normalise + Argon2id in
the node's bounded pool) and lookup (``find_by_indicator``: the keyed-tag index,
the join and opening the matching bodies), one lookup per query. Half the queries
match three alerts each, half match nothing.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from node.keys.slowhash import MAX_CONCURRENT_SLOW_HASHES
from protocol.indicators import BLIND_MEMLIMIT_BYTES

from .nodes import start_node
from .report import emit, note
from .shared import PHONES_HIT, PHONES_MISS, pair_at

FULL_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (2_000,)
FULL_SAMPLES = 200
QUICK_SAMPLES = 16
# Issue 11 and DESIGN.md: p99 <= 0.25 s including the v2 (64 MiB, keyed) blinding.
TARGET_P99_MS = 250.0
TARGET_LOOKUP_MS = 2.0
# Issue 17 item 4: twenty members checking at once, p99 <= 1 s; the node's memory
# <= 200 MB plus the slow-hash pool's size times one blinding's memory.
CROWD_MEMBERS = 20
QUICK_CROWD_MEMBERS = 4
TARGET_CROWD_P99_S = 1.0
BASE_MEMORY_MB = 200
# The crowd's own process: how long it waits for the node's start-up work, and how
# many checks it makes one by one first.
STARTUP_WAIT_S = 120
WARM_CHECKS = 10
MIB = 1024 * 1024
STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def peak_rss_mb(field: str = "VmHWM") -> float | None:
    """This process's resident high-water mark (VmHWM; or another field of
    /proc/self/status, like VmRSS) in MB, None off Linux."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Start VmHWM afresh from the current RSS (Linux: ``5`` to clear_refs)."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


async def crowd(
    service: Any, members: int
) -> tuple[list[float], float, float | None, float | None]:
    """``members`` checks at once, each for another number (half match): each one's
    seconds, the whole round's seconds, the process's peak RSS (MB) during the round
    and its RSS (MB) just before."""
    numbers = [x for ab in zip(PHONES_HIT, PHONES_MISS, strict=True) for x in ab][:members]

    async def one(number: str) -> float:
        t0 = time.perf_counter()
        await service.check("phone", number)
        return time.perf_counter() - t0

    before = peak_rss_mb("VmRSS")
    reset = reset_peak_rss()
    t0 = time.perf_counter()
    times = list(await asyncio.gather(*(one(x) for x in numbers)))
    return times, time.perf_counter() - t0, peak_rss_mb() if reset else None, before


async def crowd_alone(data: Path, members: int) -> dict[str, Any]:
    """The crowd round in a process of its own that holds only the node (started on
    ``data``), so its memory is the node's: ``python -m bench.check DIR MEMBERS``
    prints what ``crowd`` measured and the process's peak over its whole life."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.check", str(data), str(members),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the crowd process failed ({proc.returncode})")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def _crowd_main(data: Path, members: int) -> None:
    node = await start_node(data)
    try:
        # As on a node in use: its start-up work done (the first retention pass, which
        # at 1M alerts takes seconds), and a few checks made before the crowd comes.
        for _ in range(int(STARTUP_WAIT_S * 10)):
            if "retention" in node.jobs.last:
                break
            await asyncio.sleep(0.1)
        numbers = [x for ab in zip(PHONES_HIT, PHONES_MISS, strict=True) for x in ab]
        for i in range(WARM_CHECKS):
            await node.unlocked().alerts.check("phone", numbers[i % len(numbers)])
        times, round_s, peak, before = await crowd(node.unlocked().alerts, members)
    finally:
        await node.stop()
    life = peak_rss_mb()
    print(json.dumps({"times": times, "round_s": round_s, "round_peak_mb": peak,
                      "before_mb": before, "life_peak_mb": life}))  # fmt: skip


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(quick: bool) -> None:
    samples = QUICK_SAMPLES if quick else FULL_SAMPLES
    for n in QUICK_SIZES if quick else FULL_SIZES:
        pair = await pair_at(n)
        node = await start_node(pair.a_dir)
        try:
            unlocked = node.unlocked()
            store, service = unlocked.store, unlocked.alerts
            numbers = [x for ab in zip(PHONES_HIT, PHONES_MISS, strict=True) for x in ab]
            total, blind, lookup, matches = [], [], [], []
            for i in range(samples):
                number = numbers[i % len(numbers)]
                t0 = time.perf_counter()
                result = await service.check("phone", number)
                total.append((time.perf_counter() - t0) * 1000)
                matches.append(result["matches"])
                t0 = time.perf_counter()
                key = unlocked.trust.network.current
                _, blinded = await node.hashes.blind("phone", number, "GB", key)
                blind.append((time.perf_counter() - t0) * 1000)
                # One timed lookup per query: repeats of the same query would find its
                # pages cached and pull the p99 down.
                t0 = time.perf_counter()
                await store.alerts.find_by_indicator("phone", blinded, node.clock.now())
                lookup.append((time.perf_counter() - t0) * 1000)
        finally:
            await node.stop()
        members = QUICK_CROWD_MEMBERS if quick else CROWD_MEMBERS
        alone = await crowd_alone(pair.a_dir, members)
        at_once, round_s = alone["times"], alone["round_s"]
        peak, before = alone["round_peak_mb"], alone["before_mb"]
        hits = sum(1 for m in matches if m)
        note(f"check at {n}: p50 {pct(total, 50):.1f} ms, lookup p99 {pct(lookup, 99):.2f} ms")
        detail = {
            "alerts": n,
            "checks": samples,
            "matching_checks": hits,
            "matches_each": max(matches),
            "blind_p50_ms": round(pct(blind, 50), 2),
            "blind_p99_ms": round(pct(blind, 99), 2),
            "lookup_p50_ms": round(pct(lookup, 50), 3),
            "lookup_p99_ms": round(pct(lookup, 99), 3),
        }
        emit(f"check.{n}.p50", pct(total, 50), "ms", detail=detail)
        emit(f"check.{n}.p99", pct(total, 99), "ms", target=TARGET_P99_MS, detail=detail)
        emit(f"check.{n}.blind_p50", pct(blind, 50), "ms", detail={"alerts": n})
        emit(f"check.{n}.blind_p99", pct(blind, 99), "ms", detail={"alerts": n})
        emit(f"check.{n}.lookup_p50", pct(lookup, 50), "ms", detail={"alerts": n})
        emit(
            f"check.{n}.lookup_p99",
            pct(lookup, 99),
            "ms",
            target=TARGET_LOOKUP_MS,
            detail={
                "alerts": n,
                "lookups": len(lookup),
                "mean_ms": round(statistics.fmean(lookup), 3),
            },
        )
        crowd_detail = {
            "alerts": n,
            "members_at_once": members,
            "round_s": round(round_s, 3),
            "p50_s": round(pct(at_once, 50), 3),
            "blind_p50_ms": round(pct(blind, 50), 2),
            "slow_hash_pool": MAX_CONCURRENT_SLOW_HASHES,
            "what": "AlertService.check in a process holding only the node, all at once",
        }
        emit(f"check.{n}.crowd_p99", pct(at_once, 99), "s",
             target=TARGET_CROWD_P99_S, detail=crowd_detail)  # fmt: skip
        limit_mb = BASE_MEMORY_MB + MAX_CONCURRENT_SLOW_HASHES * BLIND_MEMLIMIT_BYTES / 1e6
        rss_what = (
            "VmHWM of a process holding only the node (started on the data set, then"
            " the round), over its whole life: the node's memory peak"
        )
        emit(
            f"check.{n}.crowd_peak_rss",
            alone["life_peak_mb"],
            "MB",
            target=round(limit_mb),
            detail={"alerts": n, "what": rss_what, "round_peak_mb": peak},
        )
        # What the round itself added: the slow-hash pool's blindings, and what else.
        pool_mb = MAX_CONCURRENT_SLOW_HASHES * BLIND_MEMLIMIT_BYTES / 1e6
        emit(
            f"check.{n}.crowd_rss_growth",
            None if peak is None or before is None else max(0.0, peak - before),
            "MB",
            detail={
                "alerts": n,
                "what": "VmHWM during the round less VmRSS just before it (node's process)",
                "rss_before_mb": None if before is None else round(before, 1),
                "pool_mb": round(pool_mb, 2),
            },
        )


if __name__ == "__main__":
    asyncio.run(_crowd_main(Path(sys.argv[1]), int(sys.argv[2])))
