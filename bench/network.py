"""A simulated network of up to 1,000 nodes in one process, with Tor-like latency.

Every node is the real federation code on the in-memory transport of
tests/federation/memnet.py: the real ``Syncer`` (its workers, pokes, timers and
backoff), the real ``FederationServer`` and trust rules, and the node's real
``Store`` (schema, SQL, row sealing), held in SQLite's memory with its calls inline on
the event loop (bench/memstore.py): the only difference from a node is no file and no
fsync. Each trust link gets one latency, drawn uniformly between 50 and 500 ms, spent
each way on every request (a round trip costs twice it), as over Tor.

Time is a ``FakeClock``: the driver lets the event loop run until nothing is left to
do, then moves the clock straight to the next sleeper's deadline, so every time
reported here is simulated network time (latency and the syncer's own waits; CPU time
counts as zero) and the wall time of a run is only its CPU.

The graph: node i > 0 trusts min(i, 2) nodes drawn among those before it, both ways
(``accept=relay``), so the graph is connected and has about 2n edges (average degree
4, as bench/propagation.py). For each alert, published at a random node with the
largest hop limit (MAX_HOPS), the entitled nodes are those within MAX_HOPS of the
origin in the graph. Figures per size: time until 99% and 100% of them hold it (median
and max over the alerts; null, "not measured", when an alert never got there), missed
deliveries, and of those the ones the hop rule itself cut off (hops count along the
path the alert took; when every peer of a node received it over a longer, faster path
at the hop limit, none may pass it on); the same times over the nodes the hop rule let
it reach ("reachable"); payload bytes per node per alert (what
``MemoryTransport`` counts: request and response bodies plus the signed
``Alertnode-Auth`` header, pokes and the idle timer pulls that fell in the window
included), bodies per edge per alert; then one node goes down for an hour while
alerts are published, comes back, and the time until it holds them all is its
catch-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from federation.clock import FakeClock
from protocol.limits import MAX_HOPS
from tests.federation.memnet import MemNet, MemNode

from .graph import distances
from .memstore import open_memory_store
from .report import emit, note

FULL_SIZES = (100, 300, 1000)
QUICK_SIZES = (30,)
PARENTS = 2
LATENCY_S = (0.05, 0.5)
ALERTS = 5
# Fewer at the largest size: each alert there costs about 20 s of CPU.
ALERTS_AT = {1000: 3}
QUICK_ALERTS = 2
# Simulated seconds an alert may take before the nodes that lack it count as missed.
WAIT_S = 120.0
# Simulated seconds after the last delivery in which late requests still count.
TAIL_S = 5.0
DOWN_S = 3600.0
DOWN_ALERTS = 3
QUICK_DOWN_S = 600.0
SEED = 17


def trust_graph(n: int, rng: random.Random) -> list[tuple[int, int]]:
    """Connected, about 2n edges: each node after the first trusts up to PARENTS
    earlier ones, drawn at random."""
    edges = []
    for i in range(1, n):
        for j in rng.sample(range(i), min(i, PARENTS)):
            edges.append((j, i))
    return edges


async def settle() -> None:
    """Run the event loop until no callback is ready: every task waits on the clock or
    on an event (the stores answer inline, so nothing else is in flight)."""
    loop = asyncio.get_running_loop()
    quiet = 0
    while quiet < 2:
        await asyncio.sleep(0)
        # asyncio keeps no public count of ready callbacks; ``_ready`` is its queue.
        quiet = quiet + 1 if not loop._ready else 0  # type: ignore[attr-defined]


async def run_until(clock: FakeClock, done: Callable[[], bool], limit_s: float) -> bool:
    """Move simulated time on, deadline by deadline, until ``done()`` or ``limit_s``."""
    end = clock.t + limit_s
    while True:
        await settle()
        if done():
            return True
        due = clock.next_due()
        if due is None or due > end:
            clock.advance(max(0.0, end - clock.t))
            await settle()
            return done()
        clock.advance(max(0.0, due - clock.t))


@dataclass
class Sim:
    n: int
    clock: FakeClock
    net: MemNet
    edges: list[tuple[int, int]]
    nodes: list[MemNode] = field(default_factory=list)
    # alert id -> node index -> (simulated time stored, hops stored with)
    arrivals: dict[bytes, dict[int, tuple[float, int]]] = field(default_factory=dict)
    bodies: int = 0
    # node index -> its FederationServer, to attach again after it was down
    servers: dict[int, Any] = field(default_factory=dict)
    _adj: dict[int, set[int]] = field(default_factory=dict)

    @property
    def adj(self) -> dict[int, set[int]]:
        if not self._adj:
            for i, j in self.edges:
                self._adj.setdefault(i, set()).add(j)
                self._adj.setdefault(j, set()).add(i)
        return self._adj

    def payload_bytes(self) -> int:
        return sum(nd.transport.bytes_sent + nd.transport.bytes_received for nd in self.nodes)

    def record(self, index: int, node: MemNode) -> None:
        """Note when each alert is committed to ``node``'s store (wraps this instance's
        put_batch, which publishing and the sync path both go through)."""
        alerts = node.store.alerts
        put = alerts.put_batch

        async def timed_put(items, now, **kw):  # type: ignore[no-untyped-def]
            stored = await put(items, now, **kw)
            for (item, hops, _), new in zip(items, stored, strict=True):
                if new:
                    self.arrivals.setdefault(item.id, {})[index] = (self.clock.t, hops)
            return stored

        alerts.put_batch = timed_put  # type: ignore[method-assign]

        def observe(peer: bytes, item: bytes) -> None:
            self.bodies += 1

        node.syncer.observer = observe


async def build(root: Path, n: int, rng: random.Random) -> Sim:
    clock = FakeClock()
    net = MemNet(root, clock, workers=True, open_store=open_memory_store)
    sim = Sim(n, clock, net, trust_graph(n, rng))
    for i in range(n):
        node = await net.node(f"n{i}")
        sim.nodes.append(node)
        sim.servers[i] = net.network.servers[node.addr]
        sim.record(i, node)
    for i, j in sim.edges:
        a, b = sim.nodes[i], sim.nodes[j]
        latency = rng.uniform(*LATENCY_S)
        for link in net.network.both(a.addr, b.addr):
            link.latency_s = latency
        await net.pair(a, b)
    # Every worker pulls once as it starts; let those settle.
    await run_until(clock, lambda: False, 10.0)
    return sim


def _quantile_time(times: list[float], share: float, total: int) -> float | None:
    """Simulated time by which ``share`` of ``total`` nodes held it, or None."""
    need = math.ceil(share * total)
    if need == 0:
        return 0.0
    return times[need - 1] if len(times) >= need else None


async def one_alert(sim: Sim, origin: int, k: int) -> dict[str, Any]:
    dist = distances(sim.n, sim.edges, origin)
    entitled = {v for v, d in dist.items() if 0 < d <= MAX_HOPS}
    bytes_before, bodies_before = sim.payload_bytes(), sim.bodies
    start = sim.clock.t
    alert_id = await sim.nodes[origin].publish(f"network alert {k}", hops=MAX_HOPS)
    got = sim.arrivals.setdefault(alert_id, {})
    await run_until(sim.clock, lambda: entitled <= set(got), WAIT_S)
    await run_until(sim.clock, lambda: False, TAIL_S)
    times = sorted(got[v][0] - start for v in entitled if v in got)
    missed = entitled - set(got)
    # A node can miss an alert it is entitled to by graph distance: hops count along the
    # path the alert took, and a faster but longer path may bring it to every peer of
    # the node at the hop limit already (a held id is never fetched again).
    cut = {v for v in missed if all(got.get(p, (0, MAX_HOPS))[1] >= MAX_HOPS for p in sim.adj[v])}
    return {
        "entitled": len(entitled),
        "missed": len(missed),
        "missed_hop_path": len(cut),
        "reachable_p99": _quantile_time(times, 0.99, len(entitled) - len(cut)),
        "reachable_all": times[-1] if times and len(times) == len(entitled) - len(cut) else None,
        "p99": _quantile_time(times, 0.99, len(entitled)),
        "all": times[-1] if len(times) == len(entitled) and times else None,
        "bytes": sim.payload_bytes() - bytes_before,
        "bodies": sim.bodies - bodies_before,
    }


async def down_and_back(sim: Sim, rng: random.Random, down_s: float) -> dict[str, Any]:
    """One node is down for ``down_s`` while alerts are published; then it returns.
    Its catch-up: simulated time from its return until it holds every alert one of its
    peers holds within the hop limit (what its peers may give it)."""
    victim = rng.randrange(1, sim.n)
    node = sim.nodes[victim]
    peers = sim.adj[victim]
    await node.syncer.stop()
    sim.net.network.detach(node.addr)
    published: list[bytes] = []
    step = down_s / (DOWN_ALERTS + 1)
    for k in range(DOWN_ALERTS):
        await run_until(sim.clock, lambda: False, step)
        origin = rng.choice([i for i in range(sim.n) if i != victim])
        published.append(await sim.nodes[origin].publish(f"while down {k}", hops=MAX_HOPS))
    await run_until(sim.clock, lambda: False, down_s - step * DOWN_ALERTS)

    def owed() -> set[bytes]:
        return {
            a
            for a in published
            if any(p in sim.arrivals.get(a, {}) and sim.arrivals[a][p][1] < MAX_HOPS for p in peers)
        }

    due = owed()
    bytes_before = sim.payload_bytes()
    sim.net.network.attach(node.addr, sim.servers[victim])
    back = sim.clock.t
    await node.syncer.start()
    held = await run_until(
        sim.clock, lambda: all(victim in sim.arrivals.get(a, {}) for a in due), WAIT_S
    )
    # Nothing owed (no peer may give it any of them) is no catch-up: not measured.
    catchup = max(sim.arrivals[a][victim][0] for a in due) - back if held and due else None
    return {
        "down_s": down_s,
        "published_while_down": len(published),
        "owed": len(due),
        "caught_up": held,
        "catchup_s": catchup,
        "peers": len(peers),
        "payload_bytes": sim.payload_bytes() - bytes_before,
    }


async def one_size(n: int, alerts: int, down_s: float, rng: random.Random) -> dict[str, Any]:
    t0 = time.process_time()
    w0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="anb-net-", dir="/tmp") as tmp:
        sim = await build(Path(tmp), n, rng)
        setup_wall = time.perf_counter() - w0
        note(f"network {n}: {len(sim.edges)} edges, built in {setup_wall:.1f} s wall")
        try:
            results = []
            for k in range(alerts):
                c0 = time.process_time()
                results.append(await one_alert(sim, rng.randrange(n), k))
                note(f"network {n}: alert {k}: {_brief(results[-1])}, cpu {_since(c0)}")
            c0 = time.process_time()
            down = await down_and_back(sim, rng, down_s)
            note(f"network {n}: down and back: {_brief(down)}, cpu {_since(c0)}")
        finally:
            with contextlib.suppress(Exception):
                await sim.net.close()
    return {
        "n": n,
        "edges": len(sim.edges),
        "alerts": results,
        "down": down,
        "setup_wall_s": round(setup_wall, 1),
        "wall_s": round(time.perf_counter() - w0, 1),
        "cpu_s": round(time.process_time() - t0, 1),
    }


def _since(cpu0: float) -> str:
    return f"{time.process_time() - cpu0:.1f} s"


def _brief(values: dict[str, Any]) -> str:
    return ", ".join(
        f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items()
    )


def _stat(values: list[float | None], fn: Callable[[list[float]], float]) -> float | None:
    """``fn`` over the values, an alert that never got there (None) counting as
    forever: None ("not measured") when the answer would be forever."""
    if not values:
        return None
    ordered = sorted(math.inf if v is None else v for v in values)
    value = fn(ordered)
    return None if math.isinf(value) or math.isnan(value) else value


def emit_figures(r: dict[str, Any]) -> list[dict[str, Any]]:
    n, results = r["n"], r["alerts"]
    p99 = [a["p99"] for a in results]
    full = [a["all"] for a in results]
    reachable = [a["reachable_all"] for a in results]
    reachable_p99 = [a["reachable_p99"] for a in results]
    missed = sum(a["missed"] for a in results)
    cut = sum(a["missed_hop_path"] for a in results)
    detail = {
        "nodes": n,
        "edges": r["edges"],
        "alerts": len(results),
        "latency_one_way_s": list(LATENCY_S),
        "entitled_per_alert": round(statistics.fmean(a["entitled"] for a in results), 1),
        "alerts_never_at_99_percent": sum(a["p99"] is None for a in results),
        "alerts_never_at_100_percent": sum(a["all"] is None for a in results),
        "store": "SQLite in memory, calls inline (bench/memstore.py)",
        "clock": "simulated seconds (FakeClock); CPU time counts as zero",
        "wall_s": r["wall_s"],
        "cpu_s": r["cpu_s"],
    }
    bytes_per_node = statistics.fmean(a["bytes"] for a in results) / n
    bodies_per_edge = statistics.fmean(a["bodies"] for a in results) / r["edges"]
    down = r["down"]
    out = [
        emit(f"network.{n}.p99_median", _stat(p99, statistics.median), "s", detail=detail),
        emit(f"network.{n}.p99_max", _stat(p99, max), "s", detail=detail),
        emit(f"network.{n}.all_median", _stat(full, statistics.median), "s", detail=detail),
        emit(f"network.{n}.all_max", _stat(full, max), "s", detail=detail),
        emit(
            f"network.{n}.reachable_p99_median",
            _stat(reachable_p99, statistics.median),
            "s",
            detail=detail,
        ),
        emit(f"network.{n}.reachable_all_max", _stat(reachable, max), "s", detail=detail),
        emit(f"network.{n}.missed", missed, "deliveries", target=0, detail=detail),
        emit(
            f"network.{n}.missed_hop_path",
            cut,
            "deliveries",
            detail={**detail, "note": "missed because every peer holding it was at the hop limit"},
        ),
        emit(
            f"network.{n}.payload_bytes_per_node_per_alert",
            bytes_per_node,
            "bytes/node/alert",
            detail=detail,
        ),
        emit(f"network.{n}.bodies_per_edge", bodies_per_edge, "bodies/edge/alert", detail=detail),
        emit(f"network.{n}.rejoin_catchup", down["catchup_s"], "s", detail={**detail, **down}),
    ]
    return out


async def run(quick: bool) -> None:
    # The syncer logs each refused poke to a node that is down; not wanted here.
    logging.getLogger("federation").setLevel(logging.ERROR)
    sizes = QUICK_SIZES if quick else FULL_SIZES
    for n in sizes:
        rng = random.Random(SEED)  # each size on its own: `--only network` repeats it
        alerts = QUICK_ALERTS if quick else ALERTS_AT.get(n, ALERTS)
        result = await one_size(n, alerts, QUICK_DOWN_S if quick else DOWN_S, rng)
        emit_figures(result)
