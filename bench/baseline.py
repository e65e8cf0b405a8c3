"""Baseline: a naive full-id-list exchange on the same data, beside the changes feed.

B asks A for every id it holds (the /ids pages, 1000 ids each, as the protocol's
epoch-change resync does), diffs them against its own store, and fetches nothing
(they are up to date). The ratio to the changes-feed idle sync is from the same run,
on the same nodes. The benchmark lifts A's per-peer request rate limit for this
exchange only: with it, 1000 pages would be throttled to 20 requests a second.
"""

from __future__ import annotations

import asyncio
import time

from federation.quota import PeerRateLimiter
from protocol import feed

from .idle_sync import SETTLE_S, idle_pull
from .nodes import peer_of
from .report import emit, note
from .shared import Running, pair_at, running

FULL_SIZES = (10_000, 1_000_000)
QUICK_SIZES = (2_000,)


async def id_list_exchange(r: Running) -> dict[str, float]:
    t = r.b.unlocked().trust.transport
    store_b = r.b.unlocked().store
    peer = await peer_of(r.b, r.a_key)
    sent, recv, trips = t.bytes_sent, t.bytes_received, t.round_trips
    up, down = r.proxy.up, r.proxy.down
    after: bytes | None = None
    ids = missing = 0
    t0 = time.perf_counter()
    while True:
        raw = await t.post(
            peer,
            "/ids",
            feed.encode_ids_request(feed.IdsRequest(after, feed.MAX_IDS_PAGE)),
            feed.MAX_IDS_RESPONSE_BYTES,
        )
        page = feed.decode_ids_response(raw)
        entries = [e.id for e in page.entries]
        ids += len(entries)
        missing += len(entries) - len(await store_b.alerts.known_ids(entries))
        if not page.more or not entries:
            break
        after = entries[-1]
    return {
        "ids": ids,
        "missing": missing,
        "seconds": time.perf_counter() - t0,
        "bytes": t.bytes_sent - sent + t.bytes_received - recv,
        "round_trips": t.round_trips - trips,
        "wire": r.proxy.up - up + r.proxy.down - down,
    }


async def run(quick: bool) -> None:
    for n in QUICK_SIZES if quick else FULL_SIZES:
        pair = await pair_at(n)
        async with running(pair) as r:
            await asyncio.sleep(SETTLE_S)
            await idle_pull(r)
            idle = await idle_pull(r)
            r.a.unlocked().trust.server_state.limiter = PeerRateLimiter(1e9, 1e9)
            naive = await id_list_exchange(r)
        note(f"baseline at {n}: {naive}")
        feed_bytes = None if idle is None else idle["sent"] + idle["received"]
        detail = {"alerts": n, **naive, "changes_feed_payload_bytes": feed_bytes}
        emit(f"baseline.{n}.id_list_payload_bytes", naive["bytes"], "bytes", detail=detail)
        emit(
            f"baseline.{n}.id_list_round_trips", naive["round_trips"], "round trips", detail=detail
        )
        emit(f"baseline.{n}.id_list_seconds", naive["seconds"], "s", detail=detail)
        wire_ratio = None
        if idle is not None:
            wire_ratio = round(naive["wire"] / (idle["wire_up"] + idle["wire_down"]), 1)
        emit(
            f"baseline.{n}.payload_saving_ratio",
            None if feed_bytes is None else naive["bytes"] / feed_bytes,
            "x",
            detail={
                **detail,
                "note": "id-list payload bytes / changes-feed idle payload bytes, same run",
                "wire_ratio": wire_ratio,
            },
        )
