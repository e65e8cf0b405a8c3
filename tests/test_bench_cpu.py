"""bench.cpu reads where CPU went, from the kernel's own accounting, and the ingest
figure turns it into the bound it puts on a pull's rate."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from bench.cpu import PROC, CpuSnapshot
from bench.ingest import cpu_budget

pytestmark = pytest.mark.skipif(not (PROC / "self" / "task").is_dir(), reason="no /proc")


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_a_thread_that_works_is_counted_under_its_name() -> None:
    spun, release = threading.Event(), threading.Event()

    def work() -> None:
        _spin(0.2)
        spun.set()
        release.wait(10)

    before = CpuSnapshot.take()
    assert before is not None
    worker = threading.Thread(target=work, name="bench-cpu-spinner")
    worker.start()
    assert spun.wait(10)
    after = CpuSnapshot.take()  # while it is there: a thread that ended is not counted
    release.set()
    worker.join()
    assert after is not None
    # It started after the first look, so it counts from zero: all of its 0.2 s.
    assert after.since(before).threads["bench-cpu-spinner"] == pytest.approx(0.2, abs=0.05)
    idle = CpuSnapshot.take()
    assert idle is not None
    assert "bench-cpu-spinner" not in idle.threads


def test_a_busy_thread_costs_what_it_spent() -> None:
    done = threading.Event()
    seconds: list[float] = []

    def work() -> None:
        _spin(0.3)  # before the first look: not counted
        before = CpuSnapshot.take()
        _spin(0.3)
        after = CpuSnapshot.take()
        assert before is not None and after is not None
        seconds.append(after.since(before).threads["bench-cpu-worker"])
        done.set()

    threading.Thread(target=work, name="bench-cpu-worker").start()
    assert done.wait(10)
    assert seconds[0] == pytest.approx(0.3, abs=0.05)


def test_children_and_other_processes_are_counted_apart() -> None:
    burn = (
        "import time\nend = time.process_time() + 0.3\n"
        "while time.process_time() < end: pass\ninput()"
    )
    child = subprocess.Popen([sys.executable, "-c", burn], stdin=subprocess.PIPE)
    other = subprocess.Popen([sys.executable, "-c", burn], stdin=subprocess.PIPE)
    try:
        before = CpuSnapshot.take((other.pid,))
        assert before is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = CpuSnapshot.take((other.pid,))
            assert now is not None
            if now.children.get(child.pid, 0) >= 0.3 and now.others.get(other.pid, 0) >= 0.3:
                break
            time.sleep(0.05)
        spent = now.since(before)
        # Each burned its 0.3 s once (less what it had spent before the first look).
        assert 0 < spent.children[child.pid] <= 0.45
        assert 0 < spent.others[other.pid] <= 0.45
        assert other.pid not in spent.children and child.pid not in spent.others
        assert spent.total == pytest.approx(
            spent.own + spent.children[child.pid] + spent.others[other.pid]
        )
    finally:
        for proc in (child, other):
            proc.communicate(b"\n", timeout=20)


def test_the_budget_is_the_cost_of_an_alert_and_the_rate_it_bounds() -> None:
    # 2,000 alerts: 0.4 s in the node (two threads), 0.24 s in its worker, 0.08 s
    # serving: 360 us an alert, which on two cores bounds the pull at 5,556 alerts/s.
    cpu = CpuSnapshot(
        threads={"MainThread": 0.1, "db": 0.3}, children={11: 0.24}, others={12: 0.08}
    )
    budget = cpu_budget(cpu, 2_000, cores=2, ceiling=20_000)
    assert budget["total_us"] == 360.0
    assert budget["receiving_node_us"] == 200.0
    assert budget["verification_workers_us"] == 120.0
    assert budget["serving_node_us"] == 40.0
    assert list(budget["receiving_threads_us"]) == ["db", "MainThread"]
    assert budget["bound_alerts_per_s"] == 5556
    assert budget["bound_fraction_of_ceiling"] == pytest.approx(0.2778)
    # Half of a 20,000/s ceiling on two cores: 200 us an alert at most.
    assert budget["needed_us"] == 200.0
