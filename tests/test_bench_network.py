"""The network simulation and the growth tables: deterministic, on a fake clock.

Nothing here asserts a time of the machine: simulated times are checked against the
latencies the test set, and the growth tables against figures the test writes.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
from pathlib import Path

import pytest

from bench import growth, network
from bench.memstore import open_memory_store
from federation.clock import FakeClock
from node.store.schema import MIGRATIONS
from protocol.limits import MAX_HOPS


async def test_each_memory_store_is_migrated_and_its_own() -> None:
    a, b = await open_memory_store(), await open_memory_store()
    try:
        version = await a.db.fetchone("PRAGMA user_version")
        assert version is not None and version[0] == len(MIGRATIONS)
        assert await a.epoch() != await b.epoch()
    finally:
        await a.close()
        await b.close()


async def test_the_driver_moves_time_to_each_deadline_in_turn() -> None:
    clock = FakeClock()
    woke: list[float] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(clock.t - start)

    start = clock.t
    tasks = [asyncio.ensure_future(sleeper(s)) for s in (0.3, 0.05, 0.5)]
    gone = asyncio.ensure_future(sleeper(0.01))
    await network.settle()
    gone.cancel()
    await network.settle()
    assert clock.next_due() == pytest.approx(start + 0.05)
    assert await network.run_until(clock, lambda: len(woke) == 2, 10.0)
    assert woke == [pytest.approx(0.05), pytest.approx(0.3)]
    assert clock.t == pytest.approx(start + 0.3)  # not a step further than needed
    assert not await network.run_until(clock, lambda: False, 1.0)
    assert clock.t == pytest.approx(start + 1.3)
    await asyncio.gather(*tasks)


def test_the_trust_graph_is_connected_with_about_two_edges_per_node() -> None:
    edges = network.trust_graph(200, random.Random(1))
    assert len(edges) == 2 * 200 - 3
    assert len(network.distances(200, edges, 0)) == 200
    assert len(set(edges)) == len(edges)


async def test_a_small_network_delivers_and_a_node_catches_up_after_being_down(
    tmp_path: Path,
) -> None:
    rng = random.Random(3)
    sim = await network.build(tmp_path, 12, rng)
    try:
        result = await network.one_alert(sim, 0, 0)
        dist = network.distances(12, sim.edges, 0)
        assert result["entitled"] == sum(1 for d in dist.values() if 0 < d <= MAX_HOPS)
        assert result["missed"] == 0
        # Simulated time: at least one request and its answer over the slowest link
        # (2 x 50 ms), and within the wait.
        assert 2 * network.LATENCY_S[0] <= result["p99"] <= result["all"] < network.WAIT_S
        assert result["bytes"] > 0 and result["bodies"] >= result["entitled"]
        down = await network.down_and_back(sim, rng, 600.0)
        assert down["owed"] == network.DOWN_ALERTS
        assert down["caught_up"] is True
        assert down["catchup_s"] is not None and down["catchup_s"] > 0
    finally:
        await sim.net.close()


def _line(name: str, value: float | None, unit: str, target: float | None = None) -> str:
    met = None if target is None or value is None else value <= target
    figure = {"name": name, "value": value, "unit": unit, "target": target, "met": met}
    return json.dumps({**figure, "detail": {}})


def test_the_growth_table_shows_only_what_the_run_measured() -> None:
    figures = growth.load(
        [
            _line("check.10000.p99", 24.4, "ms", 100),
            _line("check.1000000.p99", 140.0, "ms", 100),
            _line("idle_sync.100000.payload_bytes", None, "bytes", 512),
            _line("network.1000.p99_median", 9.5, "s"),
            "[bench] a progress line that is not a figure",
        ]
    )
    text = growth.section(figures, [], "bench", "test")
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if "|" in line}
    assert "| 24.40 |" in rows["10,000 alerts"]
    assert "140 **(missed)**" in rows["1,000,000 alerts"]
    assert "| not measured |" in rows["100,000 alerts"]  # null, and check absent
    assert "| 9.50 |" in rows["1,000 nodes"]
    assert "check p99 (ms, target ≤ 100)" in text
    assert "alerts page p50 (ms, not measured at any size)" in text
    assert "Plot propagation.png: not drawn" in text
    assert text.startswith(growth.START) and text.endswith(growth.END)


def test_the_growth_section_is_replaced_between_its_markers_only() -> None:
    doc = "# Benchmarks\n\nbefore\n"
    once = growth.replace_section(doc, f"{growth.START}\none\n{growth.END}")
    twice = growth.replace_section(once + "\nafter\n", f"{growth.START}\ntwo\n{growth.END}")
    assert twice == f"# Benchmarks\n\nbefore\n\n{growth.START}\ntwo\n{growth.END}\n\nafter\n"


def test_the_plots_are_drawn_from_the_figures(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    figures = growth.load(
        [
            _line("network.100.p99_median", 7.1, "s"),
            _line("network.300.p99_median", 9.0, "s"),
            _line("check.10000.p99", 24.4, "ms", 100),
            _line("check.1000000.p99", 24.3, "ms", 100),
        ]
    )
    drawn = growth.plot(figures, tmp_path)
    assert drawn == ["propagation.png", "check_latency.png"]
    for name in drawn:
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")


def test_an_alert_that_never_got_there_counts_as_forever_never_as_a_time() -> None:
    assert network._stat([5.9, 6.8, None, 8.0, 7.9], statistics.median) == 7.9
    assert network._stat([5.9, None], statistics.median) is None
    assert network._stat([1.0, None], max) is None
    assert network._stat([1.0, 2.0], max) == 2.0
    assert network._quantile_time([1.0, 2.0], 0.99, 3) is None  # one node never did
