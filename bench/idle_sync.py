"""Idle sync: bytes and round trips for a pull between two up-to-date nodes.

Counted as the transport counts them (request body + response body + the signed
Alertnode-Auth header), and beside that the full bytes on the wire (HTTP framing and
TLS records) from a counting proxy, on a warm connection and on a cold one (TLS
handshake included).
"""

from __future__ import annotations

import asyncio

from .report import emit, note
from .shared import Running, pair_at, running

FULL_SIZES = (10_000, 1_000_000)
QUICK_SIZES = (10_000,)
TARGET_BYTES = 512
TARGET_ROUND_TRIPS = 1
SETTLE_S = 1.0


async def idle_pull(r: Running) -> dict[str, int]:
    """One pull by B from A; what it cost."""
    t = r.b.unlocked().trust.transport
    sent, recv, trips = t.bytes_sent, t.bytes_received, t.round_trips
    up, down, conns = r.proxy.up, r.proxy.down, r.proxy.connections
    results = await r.b.unlocked().trust.sync_now()
    assert all(x["error"] is None and x["bodies"] == 0 for x in results), results
    return {
        "sent": t.bytes_sent - sent,
        "received": t.bytes_received - recv,
        "round_trips": t.round_trips - trips,
        "wire_up": r.proxy.up - up,
        "wire_down": r.proxy.down - down,
        "new_connections": r.proxy.connections - conns,
    }


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
        payload = warm["sent"] + warm["received"]
        detail = {"alerts": n, **warm, "store_bytes": pair.a_bytes}
        emit(f"idle_sync.{n}.bytes", payload, "bytes", target=TARGET_BYTES, detail=detail)
        emit(
            f"idle_sync.{n}.round_trips",
            warm["round_trips"],
            "round trips",
            target=TARGET_ROUND_TRIPS,
            detail=detail,
        )
        emit(
            f"idle_sync.{n}.wire_bytes_warm",
            warm["wire_up"] + warm["wire_down"],
            "bytes",
            detail={**detail, "note": "HTTP/1.1 + TLS 1.3 records, kept-alive connection"},
        )
        emit(
            f"idle_sync.{n}.wire_bytes_cold",
            cold["wire_up"] + cold["wire_down"],
            "bytes",
            detail={"alerts": n, **cold, "note": "new connection: TLS handshake included"},
        )
