"""Where a pull's CPU goes: this process by thread, its child processes, one other.

Rule: a figure of CPU is read from the kernel's own accounting (``/proc``: user and
system time of each process and thread), before and after the work, and the
difference is what the work cost; a process that ended meanwhile is not counted (so
a figure may be low, never high). On a system without ``/proc`` nothing is measured
and ``CpuSnapshot.take`` returns None.

It answers what the ingest rate cannot say alone: a pull on a machine of ``cores``
cores cannot store more than ``cores`` seconds of CPU a second buys, so the CPU it
spends an alert, in every process on the machine that took part, bounds its rate.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

K = TypeVar("K")
PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(stat: str) -> float:
    """User + system seconds of a /proc/<pid>/stat (or task stat) line. The fields
    after the command (which may hold spaces and parentheses) start at its last ')'."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _parent(stat: str) -> int:
    return int(stat.rsplit(")", 1)[1].split()[1])


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:  # gone meanwhile, or not there at all
        return None


def _spent(now: dict[K, float], then: dict[K, float]) -> dict[K, float]:
    return {k: max(0.0, v - then.get(k, 0.0)) for k, v in now.items()}


@dataclass
class CpuSnapshot:
    """CPU seconds so far: of this process's threads (by name), of its children (by
    pid), and of each ``others`` pid."""

    threads: dict[str, float] = field(default_factory=dict)
    children: dict[int, float] = field(default_factory=dict)
    others: dict[int, float] = field(default_factory=dict)

    @classmethod
    def take(cls, others: tuple[int, ...] = ()) -> CpuSnapshot | None:
        me = os.getpid()
        if not (PROC / str(me) / "task").is_dir():
            return None
        snap = cls()
        names = {str(t.native_id): t.name for t in threading.enumerate()}
        for task in (PROC / str(me) / "task").iterdir():
            stat = _read(task / "stat")
            if stat is not None:
                name = names.get(task.name) or f"thread {task.name}"
                snap.threads[name] = snap.threads.get(name, 0.0) + _cpu_seconds(stat)
        for entry in PROC.iterdir():
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            stat = _read(entry / "stat")
            if stat is None:
                continue
            pid = int(entry.name)
            if pid in others:
                snap.others[pid] = _cpu_seconds(stat)
            elif _parent(stat) == me:
                snap.children[pid] = _cpu_seconds(stat)
        return snap

    def since(self, before: CpuSnapshot) -> CpuSnapshot:
        """What was spent from ``before`` to this one (a thread or child that started
        meanwhile counts from zero)."""
        return CpuSnapshot(
            _spent(self.threads, before.threads),
            _spent(self.children, before.children),
            _spent(self.others, before.others),
        )

    @property
    def own(self) -> float:
        return sum(self.threads.values())

    @property
    def total(self) -> float:
        return self.own + sum(self.children.values()) + sum(self.others.values())
