"""Members during a catch-up: checks and pages of alerts while the node stores a peer's
20,000 alerts (the ingest benchmark's pull, through the real sync path).

A member alternates a check (``AlertService.check``: the blinding in the node's pool,
then the lookup, as ``bench/check.py`` times one) and a page of alerts (the store's
``page_rows``, the read behind the alerts page), one every ``INTERVAL_S``, for as long
as the pull lasts. The same member, the same node, then does the same with nothing
else running: the figures at rest, in the same run. A check is judged against the
one-check target (p99 <= 250 ms), a page read against the alerts page's for one
member (p50 <= 50 ms).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from node.app import Node

from .check import TARGET_P99_MS, pct
from .pages import SOLO_P50_TARGET_MS
from .pull import pull_once
from .report import emit, note
from .shared import PHONES_HIT, PHONES_MISS

FULL_ALERTS = 20_000
QUICK_ALERTS = 2_000
# Between one member's requests.
INTERVAL_S = 0.05
# Checks and page reads at rest, after the pull.
AT_REST = 40
PAGE = 50


class Member:
    """One member's checks and page reads, timed in milliseconds."""

    def __init__(self) -> None:
        self.checks: list[float] = []
        self.pages: list[float] = []
        self._numbers = [x for ab in zip(PHONES_HIT, PHONES_MISS, strict=True) for x in ab]

    async def one(self, node: Node, i: int) -> None:
        unlocked = node.unlocked()
        t0 = time.perf_counter()
        if i % 2 == 0:
            await unlocked.alerts.check("phone", self._numbers[i // 2 % len(self._numbers)])
            self.checks.append((time.perf_counter() - t0) * 1000)
        else:
            await unlocked.store.alerts.page_rows(node.clock.now(), limit=PAGE)
            self.pages.append((time.perf_counter() - t0) * 1000)

    async def browse(self, node: Node) -> None:
        """One request every INTERVAL_S, until cancelled."""
        i = 0
        while True:
            await self.one(node, i)
            i += 1
            await asyncio.sleep(INTERVAL_S)


async def run(quick: bool) -> None:
    n = QUICK_ALERTS if quick else FULL_ALERTS
    busy, rest = Member(), Member()

    async def after(node: Node) -> None:
        for i in range(AT_REST):
            await rest.one(node, i)
            await asyncio.sleep(INTERVAL_S)

    with tempfile.TemporaryDirectory(prefix="anb-", dir="/tmp") as tmp:
        note(f"busy: a member checks and browses while B stores {n} alerts")
        pulled, _ = await pull_once(Path(tmp), n, during=busy.browse, after=after)
    if pulled.stored != n or pulled.errors:
        raise RuntimeError(f"the pull stored {pulled.stored} of {n} ({pulled.errors})")
    for name, busy_ms, rest_ms in (("check", busy.checks, rest.checks),
                                   ("page_rows", busy.pages, rest.pages)):  # fmt: skip
        detail = {
            "alerts": n,
            "pull_s": round(pulled.seconds, 2),
            "requests": len(busy_ms),
            "at_rest_requests": len(rest_ms),
            "at_rest_p50_ms": round(pct(rest_ms, 50), 2),
            "at_rest_p99_ms": round(pct(rest_ms, 99), 2),
            "interval_s": INTERVAL_S,
        }
        if name == "check":
            emit("busy.check_p50", pct(busy_ms, 50), "ms", detail=detail)
            emit("busy.check_p99", pct(busy_ms, 99), "ms", target=TARGET_P99_MS, detail=detail)
        else:
            emit("busy.page_rows_p50", pct(busy_ms, 50), "ms",
                 target=SOLO_P50_TARGET_MS, detail=detail)  # fmt: skip
            emit("busy.page_rows_p99", pct(busy_ms, 99), "ms", detail=detail)
        note(f"busy: {name} p50 {pct(busy_ms, 50):.1f} ms, p99 {pct(busy_ms, 99):.1f} ms "
             f"(at rest {pct(rest_ms, 50):.1f} / {pct(rest_ms, 99):.1f})")  # fmt: skip
