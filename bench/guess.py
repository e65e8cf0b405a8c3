"""What one guess at a blinded identifier costs, and what twenty blindings at once take.

Issue 9 sets a floor: a node compromised while unlocked enumerates the 10^9 UK mobile
numbers only at >= 2 CPU-years on this machine's cores. libsodium's Argon2id (64 MiB,
with the suite new alerts use: 4 passes since suite 2) maps its 64 MiB afresh for
every hash, so its time is the Argon2id compute (user CPU) plus the kernel's work
faulting 16,384 new pages in (system CPU). The node's arena (node.keys.argon2, when
the binding was built here) keeps the memory between hashes and pays only the
compute. An attacker keeps the memory too, and runs the faster of the two: the floor
is judged on the lower mean user CPU of the two, one blinding at a time. (A faster
Argon2id on the same core would lower it further; the figure is what this machine
does with the code the node runs.)

One such faster way is measured beside it, without a target: memory kept in huge
pages (``HugePageArena``, a block advised with ``madvise(MADV_HUGEPAGE)``, where the
kernel offers them). Argon2id reads its 64 MiB at places that depend on the data, and
with 2 MiB pages far fewer of those reads miss the processor's address cache: about
10% less user CPU a guess on this project's test machine (docs/benchmarks.md,
sixteenth session). The node does not use it (a lone member's blinding over a new
huge-page block was slower at p99), but an attacker may: ``guess.enumeration_cpu_years_hugepages``
says what the floor is against one.

Twenty blindings on the node's slow-hash pool, all at once, are the part of twenty
members checking at once (``check.*.crowd_p99``) that blinding alone takes.
"""

from __future__ import annotations

import asyncio
import mmap
import resource
import statistics
import time
from pathlib import Path
from typing import Any

from node.keys import argon2
from node.keys.slowhash import MAX_CONCURRENT_SLOW_HASHES, SlowHashPool
from protocol import indicators

from .data import BENCH_NETWORK_KEY
from .report import emit, note

FULL_SAMPLES = 30
QUICK_SAMPLES = 4
CROWD = 20
QUICK_CROWD = 4
NUMBERS = 10**9
SECONDS_PER_YEAR = 365.25 * 24 * 3600
# Issue 9: enumerating 10^9 numbers costs >= 2 CPU-years on this machine.
TARGET_CPU_YEARS = 2.0


# Where the kernel says whether it offers transparent huge pages.
THP_SETTING = Path("/sys/kernel/mm/transparent_hugepage/enabled")
MADV_HUGEPAGE: int | None = getattr(mmap, "MADV_HUGEPAGE", None)


def hugepages_offered(setting_path: Path = THP_SETTING) -> bool:
    """Whether a mapping advised for huge pages gets them: the kernel's setting is
    ``always`` or ``madvise`` (not ``never``), and Python has the advice."""
    try:
        setting = setting_path.read_text()
    except OSError:
        return False
    return MADV_HUGEPAGE is not None and "[" in setting and "[never]" not in setting


class HugePageArena(argon2.Arena):
    """The node's arena with each new block a mapping of its own advised for huge
    pages: the same Argon2id, as an attacker keeping memory in huge pages runs it."""

    def _new_block(self, size: int) -> Any:
        mapping = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        assert MADV_HUGEPAGE is not None
        mapping.madvise(MADV_HUGEPAGE)
        return argon2.ffi.from_buffer("uint8_t[]", mapping, require_writable=True)


def cpu_years(user_ms: list[float]) -> float:
    """CPU-years for NUMBERS guesses at the mean user CPU of ``user_ms``.

    The mean, not the median: the kernel counts a thread's CPU time in whole clock
    ticks (4 ms on this machine), so each sample is a multiple of the tick and their
    median moves in steps of a tick (about 6% of a blinding); the mean of 30 samples
    is within a tick / 30 of the true mean when the ticks fall at random."""
    return statistics.fmean(user_ms) / 1000 * NUMBERS / SECONDS_PER_YEAR


def fastest(*runs: dict[str, list[float]] | None) -> dict[str, list[float]]:
    """Of the runs made (None: not made), the one of the lowest mean user CPU."""
    return min((r for r in runs if r), key=lambda r: statistics.fmean(r["user"]))


def _numbers(count: int, offset: int = 0) -> list[str]:
    return [f"+44 7700 {900000 + offset + i:06d}" for i in range(count)]


def _one_by_one(numbers: list[str], kdf: indicators.Kdf | None = None) -> dict[str, list[float]]:
    """Each blinding's wall, user-CPU and system-CPU milliseconds, on this thread, with
    ``kdf`` (libsodium when None)."""
    walls: list[float] = []
    users: list[float] = []
    systems: list[float] = []
    for number in numbers:
        normalised = indicators.normalise("phone", number, "GB")
        before = resource.getrusage(resource.RUSAGE_THREAD)
        t0 = time.perf_counter()
        indicators.blind_normalised("phone", normalised, BENCH_NETWORK_KEY, kdf=kdf)
        walls.append((time.perf_counter() - t0) * 1000)
        after = resource.getrusage(resource.RUSAGE_THREAD)
        users.append((after.ru_utime - before.ru_utime) * 1000)
        systems.append((after.ru_stime - before.ru_stime) * 1000)
    return {"wall": walls, "user": users, "system": systems}


async def _at_once(numbers: list[str]) -> float:
    """Seconds for every one of ``numbers`` blinded at once on the node's pool."""
    pool = SlowHashPool()
    try:
        await pool.blind("phone", numbers[0], "GB", BENCH_NETWORK_KEY)  # threads started
        t0 = time.perf_counter()
        await asyncio.gather(*(pool.blind("phone", x, "GB", BENCH_NETWORK_KEY) for x in numbers))
        return time.perf_counter() - t0
    finally:
        pool.close()


async def run(quick: bool) -> None:
    samples = QUICK_SAMPLES if quick else FULL_SAMPLES
    _one_by_one(_numbers(1, offset=samples))  # warm: the library loaded, first map made
    taken = _one_by_one(_numbers(samples))
    median = {part: statistics.median(ms) for part, ms in taken.items()}
    arena = argon2.native_arena()
    kept: dict[str, list[float]] | None = None
    if arena is not None:
        _one_by_one(_numbers(1, offset=samples), arena.hash)  # its block made
        kept = _one_by_one(_numbers(samples), arena.hash)
        arena.trim()
    huge: dict[str, list[float]] | None = None
    if arena is not None and hugepages_offered():
        huge_arena = HugePageArena()
        _one_by_one(_numbers(1, offset=samples), huge_arena.hash)  # its block made
        huge = _one_by_one(_numbers(samples), huge_arena.hash)
        huge_arena.trim()
    judged = fastest(taken, kept)
    years = cpu_years(judged["user"])
    crowd = QUICK_CROWD if quick else CROWD
    round_s = await _at_once(_numbers(crowd, offset=1000))
    note(
        f"guess: {median['wall']:.1f} ms a blinding ({median['user']:.1f} user,"
        f" {median['system']:.1f} system); {crowd} at once {round_s:.2f} s"
    )
    detail: dict[str, Any] = {
        "blindings": samples,
        "argon2id": {
            "memlimit_mib": indicators.BLIND_MEMLIMIT_BYTES // (1024 * 1024),
            "opslimit": indicators.BLIND_OPSLIMIT,
        },
        "wall_ms_median": round(median["wall"], 2),
        "user_ms_median": round(median["user"], 2),
        "system_ms_median": round(median["system"], 2),
        "user_ms_mean": round(statistics.fmean(taken["user"]), 2),
    }
    figures = (
        ("guess.blind_wall", "wall", "one blinding as the node runs it, one at a time"),
        ("guess.blind_system_cpu", "system", "kernel time of one blinding: 64 MiB faulted in"),
        ("guess.blind_user_cpu", "user", "user CPU of one blinding: the Argon2id compute"),
    )
    for name, part, what in figures:
        emit(name, median[part], "ms", detail={**detail, "what": what + " (median)"})
    if kept is not None:
        detail["kept_user_ms_mean"] = round(statistics.fmean(kept["user"]), 2)
        note(f"guess: over kept memory {statistics.median(kept['wall']):.1f} ms a blinding")
        kept_figures = (
            ("guess.blind_kept_wall", "wall", "one blinding over the arena's kept memory"),
            ("guess.blind_kept_system_cpu", "system", "its kernel time: no page is mapped"),
            ("guess.blind_kept_user_cpu", "user", "its user CPU: the Argon2id compute"),
        )
        for name, part, what in kept_figures:
            emit(name, statistics.median(kept[part]), "ms", detail={**detail, "what": what})
    emit(
        "guess.enumeration_cpu_years",
        years,
        "CPU-years",
        target=TARGET_CPU_YEARS,
        at_most=False,
        detail={
            **detail,
            "numbers": NUMBERS,
            "judged_on": "arena" if judged is kept else "libsodium",
            "what": "10^9 guesses at the lower mean user CPU of one blinding (libsodium, arena)",
        },
    )
    if huge is not None:
        # No target: the floor is judged on the code the node runs (above).
        emit(
            "guess.blind_kept_hugepages_user_cpu",
            statistics.median(huge["user"]),
            "ms",
            detail={**detail, "what": "user CPU of one blinding over kept huge pages"},
        )
        emit(
            "guess.enumeration_cpu_years_hugepages",
            cpu_years(huge["user"]),
            "CPU-years",
            detail={
                **detail,
                "hugepages_user_ms_mean": round(statistics.fmean(huge["user"]), 2),
                "numbers": NUMBERS,
                "what": "10^9 guesses for an attacker who keeps memory in huge pages",
            },
        )
    emit(
        "guess.pool_round",
        round_s,
        "s",
        detail={
            "blindings_at_once": crowd,
            "slow_hash_pool": MAX_CONCURRENT_SLOW_HASHES,
            "what": "that many blindings at once on the node's slow-hash pool, nothing else",
        },
    )
