"""Ingest: alerts/s stored through the real sync path, against Ed25519 verify/s.

Both figures come from the same run on the same kind of envelopes, so their ratio is
what the target (>= 50% of the verify ceiling) is about. The ceiling is measured just
before the pull (on alerts made alike) and just after it (on the pulled ones), and
the higher of the two counts: this machine's speed moves within a minute, and a
ceiling measured at a slow moment would flatter the fraction (in one run of the
thirteenth session it measured 15,594/s after the pull where ``machine.start`` had
measured 22,475/s a minute before). After the pull, the verification pool alone
checks the same envelopes (``ingest.verify_pool_rate``): the bound the pull works
under, with nothing stored. And what the pull spent in CPU an alert, in every process that
took part (``ingest.cpu_per_alert``): the machine's cores divided by it bound the rate,
whatever runs in parallel.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from federation.verifier import usable_cores

from .cpu import CpuSnapshot
from .data import make_alerts
from .pull import pull_once, verify_pool_rate, verify_rate
from .report import emit, note

FULL_ALERTS = 20_000
QUICK_ALERTS = 2_000
TARGET_FRACTION = 0.5
# Verifications timed for the ceiling, before the pull and after it.
CEILING_SAMPLE = 5_000
# Threads of the receiving node named in ``ingest.cpu_per_alert`` (the costliest).
NAMED_THREADS = 5


def cpu_budget(
    cpu: CpuSnapshot, alerts: int, cores: int, ceiling: float, fraction: float = TARGET_FRACTION
) -> dict[str, Any]:
    """The CPU a pull of ``alerts`` spent an alert (microseconds), by process and by
    the receiving node's threads, and the rate it bounds on ``cores`` cores: no pull
    that spends as much can store faster, however its work is spread. ``needed_us``:
    the most an alert may cost for ``fraction`` of ``ceiling``."""
    per = 1e6 / alerts
    total = cpu.total * per
    threads = sorted(cpu.threads.items(), key=lambda kv: -kv[1])[:NAMED_THREADS]
    bound = cores * 1e6 / total if total else None
    return {
        "total_us": round(total, 1),
        "receiving_node_us": round(cpu.own * per, 1),
        "verification_workers_us": round(sum(cpu.children.values()) * per, 1),
        "serving_node_us": round(sum(cpu.others.values()) * per, 1),
        "receiving_threads_us": {name: round(s * per, 1) for name, s in threads},
        "cores": cores,
        "bound_alerts_per_s": round(bound) if bound else None,
        "bound_fraction_of_ceiling": round(bound / ceiling, 4) if bound and ceiling else None,
        "needed_us": round(cores * 1e6 / (fraction * ceiling), 1) if ceiling else None,
    }


async def run(quick: bool, profile_path: Path | None = None) -> None:
    n = QUICK_ALERTS if quick else FULL_ALERTS
    bare_before, full_before = verify_rate(make_alerts(min(CEILING_SAMPLE, n), int(time.time())))
    with tempfile.TemporaryDirectory(prefix="anb-", dir="/tmp") as tmp:
        note(f"ingest: {n} alerts, A (child process) -> B")
        run_, alerts = await pull_once(Path(tmp), n)
    bare_after, full_after = verify_rate(alerts, CEILING_SAMPLE)
    pool_rate, workers, verified = await verify_pool_rate(alerts[:n])
    bare, full = max(bare_before, bare_after), max(full_before, full_after)
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
    emit(
        "ingest.verify_ceiling",
        bare,
        "verifications/s",
        detail={
            "sample": min(CEILING_SAMPLE, n),
            "before_pull": round(bare_before),
            "after_pull": round(bare_after),
        },
    )
    emit(
        "ingest.fraction_of_ceiling",
        rate / bare,
        "ratio",
        target=TARGET_FRACTION,
        at_most=False,
        detail={"full_verify_alert_per_s": round(full)},
    )
    # No target: the bound a pull works under. Verifying alone, nothing stored, the
    # pool cannot pass this rate, whatever the store and the event loop cost.
    emit(
        "ingest.verify_pool_rate",
        pool_rate,
        "alerts/s",
        detail={
            "alerts": n,
            "verified": verified,
            "workers": workers,
            "fraction_of_ceiling": round(pool_rate / bare, 4) if bare else None,
        },
    )
    # No target: what the fraction above costs, and the most it could be at that cost.
    if run_.cpu is not None and run_.stored:
        budget = cpu_budget(run_.cpu, run_.stored, usable_cores(), bare)
        emit("ingest.cpu_per_alert", budget.pop("total_us"), "us CPU/alert", detail=budget)
    else:
        emit("ingest.cpu_per_alert", None, "us CPU/alert", detail={"why": "no /proc here"})
    if profile_path is not None:
        with tempfile.TemporaryDirectory(prefix="anb-", dir="/tmp") as tmp:
            note("ingest: profiling a second pull with pyinstrument")
            prof, _ = await pull_once(Path(tmp), n, profile=True)
        profile_path.write_text(prof.profile_text)
        note(f"ingest: profile written to {profile_path}")
