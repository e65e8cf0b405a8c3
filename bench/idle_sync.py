"""Idle sync: bytes and round trips for a pull between two up-to-date nodes.

Two kinds of bytes, each figure named for what it counts: payload bytes as the
transport counts them (request body + response body + the signed Alertnode-Auth
header), and wire bytes (HTTP framing and TLS records) from a counting proxy, on a
warm connection and on a cold one (TLS handshake included). Each is judged against
its own target. A pull that did not happen is "not measured", never met.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .report import emit, note
from .shared import Running, pair_at, running

FULL_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (2_000,)
TARGET_PAYLOAD_BYTES = 512
TARGET_WIRE_BYTES_WARM = 768
TARGET_ROUND_TRIPS = 1
SETTLE_S = 1.0
# A measurement window that carried another pull of B's own (a worker's, at the same
# moment) is measured again, this many times at most; how many were dropped is kept.
MEASURE_TRIES = 5


def pull_cost(
    results: list[dict[str, Any]], before: dict[str, int], after: dict[str, int]
) -> dict[str, int] | None:
    """What one pull cost, from counters read before and after it; None when no pull
    was measured (no peer pulled, or nothing crossed the transport).

    Raises AssertionError if a pull failed or fetched bodies (the nodes were not idle).
    """
    if not results:
        return None
    assert all(x["error"] is None and x["bodies"] == 0 for x in results), results
    cost = {name: after[name] - before[name] for name in before}
    if cost["round_trips"] == 0:
        return None
    return cost


def _counters(r: Running) -> dict[str, int]:
    t = r.b.unlocked().trust.transport
    return {
        "sent": t.bytes_sent,
        "received": t.bytes_received,
        "round_trips": t.round_trips,
        "wire_up": r.proxy.up,
        "wire_down": r.proxy.down,
        "new_connections": r.proxy.connections,
    }


def crowded(results: list[dict[str, Any]], cost: dict[str, int]) -> bool:
    """Did B's transport carry more requests than the measured pull made? The
    counters are the whole transport's, so a pull of B's own workers that ran at the
    same moment is in them too (an idle pull asks for one page per peer, no bodies)."""
    return cost["round_trips"] > sum(x.get("pages", 0) for x in results)


async def idle_pull(r: Running) -> dict[str, int] | None:
    """One pull by B from A; what it cost, or None if no pull happened. A window that
    another pull crowded is measured again (``crowded_windows`` counts them)."""
    dropped = 0
    while True:
        before = _counters(r)
        results = await r.b.unlocked().trust.sync_now()
        cost = pull_cost(results, before, _counters(r))
        if cost is None or not crowded(results, cost) or dropped + 1 >= MEASURE_TRIES:
            return None if cost is None else {**cost, "crowded_windows": dropped}
        dropped += 1


def _sum(cost: dict[str, int] | None, *names: str) -> int | None:
    return None if cost is None else sum(cost[name] for name in names)


def emit_figures(n: int, warm: dict[str, int] | None, cold: dict[str, int] | None,
                 store_bytes: int) -> list[dict[str, Any]]:  # fmt: skip
    """The idle-sync figures of one store size; a missing pull gives null values."""
    missing = {"not_measured": "no pull happened"}
    detail = {"alerts": n, **(warm or missing), "store_bytes": store_bytes}
    return [
        emit(
            f"idle_sync.{n}.payload_bytes",
            _sum(warm, "sent", "received"),
            "bytes",
            target=TARGET_PAYLOAD_BYTES,
            detail=detail,
        ),
        emit(
            f"idle_sync.{n}.round_trips",
            _sum(warm, "round_trips"),
            "round trips",
            target=TARGET_ROUND_TRIPS,
            detail=detail,
        ),
        emit(
            f"idle_sync.{n}.wire_bytes_warm",
            _sum(warm, "wire_up", "wire_down"),
            "bytes",
            target=TARGET_WIRE_BYTES_WARM,
            detail={**detail, "note": "HTTP/1.1 + TLS 1.3 records, kept-alive connection"},
        ),
        emit(
            f"idle_sync.{n}.wire_bytes_cold",
            _sum(cold, "wire_up", "wire_down"),
            "bytes",
            detail={
                "alerts": n,
                **(cold or missing),
                "note": "new connection: TLS handshake included",
            },
        ),
    ]


async def run(quick: bool) -> None:
    for n in QUICK_SIZES if quick else FULL_SIZES:
        pair = await pair_at(n)
        async with running(pair) as r:
            await asyncio.sleep(SETTLE_S)  # the pulls every worker makes at start
            warm = await idle_pull(r)
            warm = await idle_pull(r)
            await r.b.unlocked().trust.transport.close()
            cold = await idle_pull(r)
        note(f"idle sync at {n}: {warm}")
        emit_figures(n, warm, cold, pair.a_bytes)
