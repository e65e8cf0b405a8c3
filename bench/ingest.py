"""Ingest: alerts/s stored through the real sync path, against Ed25519 verify/s.

Both figures come from the same run on the same envelopes, so their ratio is what
the target (>= 50% of the verify ceiling) is about.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .pull import pull_once, verify_rate
from .report import emit, note

FULL_ALERTS = 20_000
QUICK_ALERTS = 2_000
TARGET_FRACTION = 0.5


async def run(quick: bool, profile_path: Path | None = None) -> None:
    n = QUICK_ALERTS if quick else FULL_ALERTS
    with tempfile.TemporaryDirectory(prefix="anb-", dir="/tmp") as tmp:
        note(f"ingest: {n} alerts, A (child process) -> B")
        run_, alerts = await pull_once(Path(tmp), n)
    bare, full = verify_rate(alerts)
    rate = run_.stored / run_.seconds if run_.seconds else 0.0
    detail = {
        "alerts": n,
        "stored": run_.stored,
        "refused": run_.refused,
        "seconds": round(run_.seconds, 3),
        "round_trips": run_.round_trips,
        "errors": run_.errors,
        "verify_alert_per_s": round(full),
        "ed25519_verify_per_s": round(bare),
    }
    emit(
        "ingest.rate",
        rate,
        "alerts/s",
        target=round(TARGET_FRACTION * bare),
        at_most=False,
        detail=detail,
    )
    emit("ingest.verify_ceiling", bare, "verifications/s", detail={"sample": min(5000, n)})
    emit(
        "ingest.fraction_of_ceiling",
        rate / bare,
        "ratio",
        target=TARGET_FRACTION,
        at_most=False,
        detail={"full_verify_alert_per_s": round(full)},
    )
    if profile_path is not None:
        with tempfile.TemporaryDirectory(prefix="anb-", dir="/tmp") as tmp:
            note("ingest: profiling a second pull with pyinstrument")
            prof, _ = await pull_once(Path(tmp), n, profile=True)
        profile_path.write_text(prof.profile_text)
        note(f"ingest: profile written to {profile_path}")
