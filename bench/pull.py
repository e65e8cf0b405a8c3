"""The pull scenario shared by the ingest and catch-up benchmarks.

Node A (an ``alertnode run`` child, so serving does not share B's core) holds
``old + n`` relayed alerts; node B (in this process) already holds the first ``old``
and its cursor says so. B then pulls once through the real sync path: changes feed,
bodies, envelope decode, signature and field checks, store. Optionally through a
counting proxy (wire bytes) and under pyinstrument (the profile of B's side).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import nacl.signing

from federation.verifier import POOL_WORKERS, Checked, Verifier
from node.app import Node
from node.keys import keystore
from protocol import feed
from protocol.alert import verify_alert
from protocol.signing import Kind, parse_envelope

from .cpu import CpuSnapshot
from .data import BENCH_NETWORK_KEY, SignedAlert, bulk_insert, make_alerts
from .nodes import NodeProcess, card_for, make_dir, node_key, open_store, start_node
from .proxy import CountingProxy

# The alerts on A came to it from a node that is not in the benchmark.
RELAY_KEY = hashlib.sha256(b"alertnode-bench-relay").digest()


@dataclass
class PullRun:
    n: int
    seconds: float = 0.0
    stored: int = 0
    refused: int = 0
    bodies: int = 0
    round_trips: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    wire_up: int = 0
    wire_down: int = 0
    alert_bytes: int = 0
    fetched_twice: int = 0
    distinct_bodies: int = 0
    errors: list[str] = field(default_factory=list)
    profile_text: str = ""
    # CPU spent during the pull (bench.cpu): B by thread, B's children (its
    # verification workers), A. None where it could not be read.
    cpu: CpuSnapshot | None = None


def verify_rate(alerts: list[SignedAlert], count: int = 5000) -> tuple[float, float]:
    """(bare Ed25519 verifications/s, full ``verify_alert`` checks/s) on these envelopes."""
    sample = alerts[:count]
    envs = [parse_envelope(a.envelope) for a in sample]
    keys = {e.signer: nacl.signing.VerifyKey(e.signer) for e in envs}
    msgs = [(keys[e.signer], Kind.ALERT.tag + e.body, e.sig) for e in envs]
    t0 = time.perf_counter()
    for key, msg, sig in msgs:
        key.verify(msg, sig)
    bare = len(msgs) / (time.perf_counter() - t0)
    now = int(time.time())
    t0 = time.perf_counter()
    for a in sample:
        verify_alert(a.envelope, now)
    full = len(sample) / (time.perf_counter() - t0)
    return bare, full


async def verify_pool_rate(alerts: list[SignedAlert]) -> tuple[float, int, int]:
    """(alerts/s, workers, alerts verified) of the node's verification pool alone on
    these envelopes: batches as a pull fetches them (``feed.MAX_BATCH_IDS``), two in
    flight as a pull keeps them (the next checked while this one is taken), nothing
    stored. A pull through the real sync path cannot be faster than this."""
    now = int(time.time())
    items = [a.envelope for a in alerts]
    batches = [items[i : i + feed.MAX_BATCH_IDS] for i in range(0, len(items), feed.MAX_BATCH_IDS)]
    verifier = Verifier(POOL_WORKERS)
    await verifier.start()
    verified = 0
    try:
        t0 = time.perf_counter()
        pending: asyncio.Future[list[Checked]] | None = None
        for batch in batches:
            ahead = asyncio.ensure_future(verifier.check(batch, now))
            if pending is not None:
                verified += sum(not isinstance(v, tuple) for _, v in await pending)
            pending = ahead
        if pending is not None:
            verified += sum(not isinstance(v, tuple) for _, v in await pending)
        seconds = time.perf_counter() - t0
    finally:
        verifier.close()
    return (len(items) / seconds if seconds else 0.0), POOL_WORKERS, verified


async def pull_once(
    root: Path,
    n: int,
    *,
    old: int = 0,
    proxy: bool = False,
    profile: bool = False,
    during: Callable[[Node], Awaitable[None]] | None = None,
    after: Callable[[Node], Awaitable[None]] | None = None,
) -> tuple[PullRun, list[SignedAlert]]:
    """The pull; ``during(B)`` runs beside it and is cancelled when it ends, then
    ``after(B)`` runs before the nodes stop. With ``during``, B holds the network key
    the alerts' indicators name, so that a check there blinds as a member's would."""
    now = int(time.time())
    alerts = make_alerts(old + n, now)
    a_dir, b_dir = await make_dir(root, "A"), await make_dir(root, "B")
    if during is not None:
        data_key = keystore.unlock(b_dir, None).data_key
        keystore.save_network_keys(b_dir, data_key, (BENCH_NETWORK_KEY,))
    a_key = node_key(a_dir)
    store = await open_store(a_dir)
    await bulk_insert(store, alerts, hops=1, received_from=RELAY_KEY, now=now)
    epoch = await store.alerts.epoch()
    await store.close()
    if old:
        store = await open_store(b_dir)
        await bulk_insert(store, alerts[:old], hops=2, received_from=a_key, now=now)
        await store.close()

    run = PullRun(n, alert_bytes=sum(len(a.envelope) for a in alerts[old:]))
    a_proc = NodeProcess(a_dir)
    counting: CountingProxy | None = None
    b = None
    try:
        await a_proc.start()
        b = await start_node(b_dir)
        pb = b.unlocked().trust
        await a_proc.call("peer.add", {"card": pb.card(), "accept": "relay"})
        url = None
        if proxy:
            port = int(card_url_port(a_dir))
            counting = CountingProxy("127.0.0.1", port)
            await counting.start()
            url = counting.url
        # accept=none: B's worker leaves A alone until the timed pull below.
        await pb.add_peer(card_for(a_dir, url), "none", True, None)
        store_b = b.unlocked().store
        if old:
            await store_b.peers.save_progress(
                a_key, epoch=epoch, cursor=old, received=0, lag=0, now=now
            )
        await pb.set_peer("A", accept="relay")
        seen: Counter[bytes] = Counter()
        if proxy:
            # Counting bodies parses each one again on B's event loop: only catch-up
            # reports it (bodies_fetched_twice), so the ingest rate does not pay it.
            pb.syncer.observer = lambda _peer, item: seen.update((item,))
        transport = pb.transport
        sent0, recv0, trips0 = transport.bytes_sent, transport.bytes_received, transport.round_trips
        profiler = None
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler(async_mode="enabled", interval=0.0005)
            profiler.start()
        beside = None if during is None else asyncio.ensure_future(during(b))
        serving = () if a_proc.proc is None else (a_proc.proc.pid,)
        cpu0 = CpuSnapshot.take(serving)
        t0 = time.perf_counter()
        results = await pb.sync_now()
        run.seconds = time.perf_counter() - t0
        cpu1 = CpuSnapshot.take(serving)
        if cpu0 is not None and cpu1 is not None:
            run.cpu = cpu1.since(cpu0)
        if beside is not None:
            beside.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beside
        if after is not None:
            await after(b)
        if profiler is not None:
            profiler.stop()
            run.profile_text = profiler.output_text(unicode=False, color=False)
        run.stored = sum(r["stored"] for r in results)
        run.refused = sum(r["refused"] for r in results)
        run.bodies = sum(r["bodies"] for r in results)
        run.errors = [r["error"] for r in results if r["error"]]
        run.round_trips = transport.round_trips - trips0
        run.bytes_sent = transport.bytes_sent - sent0
        run.bytes_received = transport.bytes_received - recv0
        run.fetched_twice = sum(1 for c in seen.values() if c > 1)
        run.distinct_bodies = len(seen)
        if counting is not None:
            run.wire_up, run.wire_down = counting.up, counting.down
    finally:
        if b is not None:
            await b.stop()
        await a_proc.stop()
        if counting is not None:
            await counting.stop()
    return run, alerts


def card_url_port(data: Path) -> str:
    from node import config as config_mod

    return config_mod.load(data).fed.rsplit(":", 1)[1]
