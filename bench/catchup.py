"""Catch-up: a node that was away while 10,000 alerts were published pulls them.

Payload overhead is every byte the sync moved (request and response bodies plus the
signed Alertnode-Auth header, as the transport counts them) minus the alerts' own
envelope bytes, per alert; the target applies to it. Wire overhead, beside it, is the
same from the counting proxy's full HTTP/TLS bytes (no target).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .pull import pull_once
from .report import emit, note

FULL_ALERTS = 10_000
QUICK_ALERTS = 1_000
ALREADY_HELD = 100
TARGET_PAYLOAD_OVERHEAD_BYTES = 48


async def run(quick: bool) -> None:
    n = QUICK_ALERTS if quick else FULL_ALERTS
    with tempfile.TemporaryDirectory(prefix="anb-", dir="/tmp") as tmp:
        note(f"catch-up: {n} missed alerts through a counting proxy")
        r, _ = await pull_once(Path(tmp), n, old=ALREADY_HELD, proxy=True)
    payload = r.bytes_sent + r.bytes_received
    overhead = (payload - r.alert_bytes) / n
    wire = r.wire_up + r.wire_down
    base = {"alerts": n, "stored": r.stored, "alert_bytes": r.alert_bytes, "errors": r.errors}
    emit(
        "catchup.payload_overhead_per_alert",
        overhead,
        "bytes/alert",
        target=TARGET_PAYLOAD_OVERHEAD_BYTES,
        detail={
            **base,
            "payload_bytes": payload,
            "sent": r.bytes_sent,
            "received": r.bytes_received,
        },
    )
    emit(
        "catchup.wire_overhead_per_alert",
        (wire - r.alert_bytes) / n,
        "bytes/alert",
        detail={
            **base,
            "wire_bytes": wire,
            "up": r.wire_up,
            "down": r.wire_down,
            "note": "HTTP headers, TLS records and handshake included",
        },
    )
    emit("catchup.round_trips", r.round_trips, "round trips", detail=base)
    emit("catchup.seconds", r.seconds, "s", detail={**base, "alerts_per_s": round(n / r.seconds)})
    emit(
        "catchup.bodies_fetched_twice",
        r.fetched_twice,
        "bodies",
        target=0,
        detail={**base, "distinct_bodies": r.distinct_bodies, "bodies": r.bodies},
    )
