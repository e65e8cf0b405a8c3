"""The machine a run was made on, and how fast it was at the start and at the end.

Two runs' figures can differ by the machine alone: the 2-core machine these
benchmarks run on has changed between sessions (an AMD EPYC, an Intel Xeon, an AMD
EPYC of another family), and one machine's speed for the same code moved by up to
two times within an hour (docs/benchmarks.md). So every run says what it ran on and
times the same small piece of work before its first benchmark (``machine.start``)
and after its last (``machine.end``):

- ``value``: Ed25519 verifications a second on one core, timed as the ingest
  ceiling is (``bench.pull.verify_rate``) on ``VERIFY_SAMPLE`` benchmark alerts;
- ``detail.blind_user_ms``, ``detail.blind_system_ms``: one blinding with the suite
  new alerts use (Argon2id through libsodium), the median of ``BLIND_SAMPLES``, in
  this thread's user and system CPU;
- ``detail.cpu`` and the rest of ``describe()``: the processor, its cores, the kernel.

Nothing here has a target: these lines say how to read the others.
"""

from __future__ import annotations

import platform
import resource
import statistics
import time
from pathlib import Path
from typing import Any

from federation.verifier import usable_cores
from protocol.indicators import SUITE, NetworkKey, blind_normalised

from .data import make_alerts
from .pull import verify_rate
from .report import emit

VERIFY_SAMPLE = 2_000
BLIND_SAMPLES = 3
CPUINFO = Path("/proc/cpuinfo")
# The instruction sets that decide which code libsodium picks for Argon2id.
FLAGS_OF_NOTE = ("avx2", "avx512f")


def cpu_description(cpuinfo: str) -> dict[str, Any]:
    """The first processor of a /proc/cpuinfo text: its model name, vendor, family
    and model numbers, and which of FLAGS_OF_NOTE it has ({} for an empty text)."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    if not fields:
        return {}
    flags = set(fields.get("flags", "").split())
    out: dict[str, Any] = {
        "cpu": fields.get("model name", ""),
        "vendor": fields.get("vendor_id", ""),
        "flags": [flag for flag in FLAGS_OF_NOTE if flag in flags],
    }
    for key, name in (("cpu family", "family"), ("model", "model")):
        if fields.get(key, "").isdigit():
            out[name] = int(fields[key])
    return out


def describe() -> dict[str, Any]:
    """This machine: its processor (``cpu_description``), the cores this process may
    run on, the kernel and the Python."""
    try:
        text = CPUINFO.read_text()
    except OSError:
        text = ""
    out = cpu_description(text) or {"cpu": platform.processor()}
    out["cores"] = usable_cores()
    out["kernel"] = platform.release()
    out["python"] = platform.python_version()
    return out


def blind_cpu(samples: int = BLIND_SAMPLES) -> tuple[float, float]:
    """(user, system) ms of one blinding with ``SUITE``, each the median of
    ``samples``, counted for this thread alone."""
    key = NetworkKey(bytes(32))
    who = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
    users, systems = [], []
    for i in range(samples):
        before = resource.getrusage(who)
        blind_normalised("phone", f"+4477009{i:05d}", key, SUITE)
        after = resource.getrusage(who)
        users.append((after.ru_utime - before.ru_utime) * 1000)
        systems.append((after.ru_stime - before.ru_stime) * 1000)
    return statistics.median(users), statistics.median(systems)


def report(when: str) -> dict[str, Any]:
    """Emit ``machine.<when>``: the verification rate, one blinding's CPU, and
    ``describe()``."""
    user, system = blind_cpu()
    detail = describe()
    detail.update(
        {
            "blind_suite": SUITE,
            "blind_user_ms": round(user, 1),
            "blind_system_ms": round(system, 1),
            "verify_sample": VERIFY_SAMPLE,
        }
    )
    bare, _ = verify_rate(make_alerts(VERIFY_SAMPLE, int(time.time())))
    return emit(f"machine.{when}", bare, "verifications/s", detail=detail)
