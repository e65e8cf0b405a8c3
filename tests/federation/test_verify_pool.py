"""Pulled items verified in the process pool (federation/verifier.py, issue 17 item 1):
forged and altered alerts are still refused when the pool checks them, and a worker
that dies costs no alert (its batch is checked inline, the pool is built again).

On the in-memory network with the fake clock; the pool is real (two spawned
processes), and ``min_items=1`` sends even a small batch to it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from concurrent.futures.process import BrokenProcessPool

import pytest

from federation.verifier import Verifier, pool_workers
from protocol.alert import sign_alert
from protocol.signing import Envelope, Kind
from tests.federation.memnet import MemNet, alert_body


@pytest.fixture
async def pool() -> AsyncIterator[Verifier]:
    verifier = Verifier(workers=2, min_items=1)
    await verifier.start()
    yield verifier
    verifier.close()


async def test_forged_and_altered_alerts_are_refused_through_the_pool(
    memnet: MemNet, pool: Verifier
) -> None:
    d = await memnet.node("d")
    d.syncer.verifier = pool
    evil = await memnet.hostile("evil", d)
    now = memnet.clock.now()
    good = sign_alert(alert_body(evil.key, now, "honest"), evil.key, now)
    forged = Envelope(
        Kind.ALERT, evil.pub, alert_body(evil.key, now, "forged").to_bytes(), b"\x00" * 64
    )
    forged_id = evil.feed.add(forged.to_bytes(), origin=evil.pub, claimed_id=forged.id)
    altered = Envelope(
        Kind.ALERT, evil.pub, good.envelope.body.replace(b"honest", b"HONEST"), good.envelope.sig
    )
    altered_id = evil.feed.add(altered.to_bytes(), origin=evil.pub, claimed_id=altered.id)
    honest_id = evil.serve(good)
    result = await d.syncer.pull(await d.peer(evil))  # type: ignore[arg-type]
    assert result.error is None, result.error
    assert result.stored == 1 and result.refused == 2
    assert result.refusal_code == "bad_signature"
    assert await d.has(honest_id)
    assert not await d.has(forged_id) and not await d.has(altered_id)
    assert pool.pooled == 1 and pool.fallbacks == 0


async def test_a_dead_worker_loses_no_alert(memnet: MemNet, pool: Verifier) -> None:
    a, d = await memnet.node("a"), await memnet.node("d")
    await memnet.pair(a, d)
    d.syncer.verifier = pool
    ids = [await a.publish(f"alert {n}") for n in range(5)]
    assert (await d.pull(a)).stored == 5 and pool.pooled == 1
    # A worker dies (as if killed): the pool is broken for every later batch.
    broken = pool._pool  # the executor the next batch would use
    assert broken is not None
    with pytest.raises(BrokenProcessPool):
        broken.submit(os._exit, 1).result()
    ids += [await a.publish(f"later {n}") for n in range(5)]
    result = await d.pull(a)
    assert result.error is None and result.stored == 5 and result.refused == 0
    assert pool.fallbacks == 1
    for alert_id in ids:
        assert await d.has(alert_id)
    # The next batch starts a new pool (checked inline until its workers are up).
    await pool.start()
    ids.append(await a.publish("after the crash"))
    assert (await d.pull(a)).stored == 1 and pool.fallbacks == 1 and pool.pooled == 3


# A process that starts a verification pool, says its pid, and waits to be killed.
POOL_OWNER = """
import asyncio, os, sys, threading
from federation.verifier import Verifier

async def main():
    verifier = Verifier(workers=2, min_items=1)
    await verifier.start()
    await verifier.check([b"not an envelope"] * 8, 0)  # both workers have worked
    print(os.getpid(), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


def _children(pid: int) -> set[int]:
    kids: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            kids.update(int(k) for k in f.read().split())
    return kids


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads /proc (Linux)")
def test_workers_end_when_their_node_is_killed() -> None:
    """SIGKILL leaves a node no time to shut its pool down: its workers must notice and
    end by themselves, not live on orphaned (holding the node's output pipes, which
    hung the crash tests' harness)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    owner = subprocess.Popen(
        [sys.executable, "-c", POOL_OWNER],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=root,
    )  # fmt: skip
    assert owner.stdin is not None and owner.stdout is not None
    try:
        assert int(owner.stdout.readline()) == owner.pid
        workers = {k for k in _children(owner.pid) if "spawn_main" in _cmdline(k)}
        assert len(workers) == 2
    finally:
        owner.kill()
        owner.wait(timeout=30)
        owner.stdin.close()
        owner.stdout.close()
    deadline = time.monotonic() + 15
    while any("spawn_main" in _cmdline(w) for w in workers):
        assert time.monotonic() < deadline, "a verification worker outlived its node"
        time.sleep(0.1)


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 1), (4, 3), (16, 15)])
def test_the_pool_leaves_one_core_to_the_node(cores: int, workers: int) -> None:
    assert pool_workers(cores) == workers


def test_the_pool_counts_the_cores_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert pool_workers() == 2
