"""Alerts pages: ``/alerts`` through the real web port of a node holding n alerts.

A member signs up through the web (invite, CSRF, proof of work) on node A of the
shared pair (bench.shared), served by the node's own aiohttp app on 127.0.0.1; then
GET /alerts is timed under four filters (none; two regions; a category; two regions,
a category and danger 2 or worse), one member alone (p50, target 50 ms) and twenty
members at once (p99, target 0.5 s); and the first page under each filter alone
(``cold_max``, no target: nothing it shows was decoded or rendered before). Filters
are chosen by POST and kept in the session, as a browser does; only the GETs are timed.
The members' HTTP clients run in a process of their own, so only the server's work
(and the machine's other load) is in the figures.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import aiohttp
from aiohttp.test_utils import TestServer

from node.web import web_app
from node.web.context import STATE_KEY
from node.web.work import solve
from protocol.fields import CATEGORIES

from .data import REGIONS
from .nodes import start_node
from .report import emit, note
from .shared import pair_at

SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (2_000,)
SOLO_REQUESTS = 40
CROWD_MEMBERS = 20
CROWD_REQUESTS_EACH = 5
SOLO_P50_TARGET_MS = 50.0
CROWD_P99_TARGET_S = 0.5
PASSPHRASE = "a long enough benchmark passphrase"  # noqa: S105 (a throwaway node)
FILTERS: tuple[dict[str, object], ...] = (
    {},
    {"region": list(REGIONS[:2])},
    {"category": CATEGORIES[3]},
    {"region": list(REGIONS[:2]), "category": CATEGORIES[3], "danger": "2"},
)
# (cold, solo, crowd) GET times in seconds.
Timings = tuple[list[float], list[float], list[float]]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_WORK = re.compile(r'name="pow_challenge" value="([^"]+)"')


async def _form(client: aiohttp.ClientSession, url: str, page: str, data: dict[str, object]) -> int:
    async with client.get(page) as resp:
        html = await resp.text()
    fields: list[tuple[str, str]] = [("csrf", _CSRF.findall(html)[0])]
    challenge = _WORK.findall(html)
    if challenge:
        fields += [("pow_challenge", challenge[0]), ("pow", str(solve(challenge[0])))]
    for name, value in data.items():
        fields += [(name, v) for v in (value if isinstance(value, list) else [value])]
    async with client.post(url, data=fields, allow_redirects=False) as resp:
        return resp.status


async def _member(base: str, invite: str, nickname: str) -> aiohttp.ClientSession:
    # unsafe: the jar must keep cookies from an IP address (127.0.0.1).
    client = aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True))
    status = await _form(
        client,
        "/signup",
        "/signup",
        {"invite": invite, "nickname": nickname, "passphrase": PASSPHRASE,
         "passphrase2": PASSPHRASE},
    )  # fmt: skip
    if status != 303:
        await client.close()
        raise RuntimeError(f"sign-up answered {status}")
    return client


async def _timed_gets(client: aiohttp.ClientSession, count: int) -> list[float]:
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        async with client.get("/alerts") as resp:
            await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"/alerts answered {resp.status}")
        out.append(time.perf_counter() - t0)
    return out


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(quick: bool) -> None:
    for n in QUICK_SIZES if quick else SIZES:
        await _run_size(n, quick)


def drive_clients(base: str, invites: list[str], quick: bool) -> Timings:
    """In a process of its own (its own event loop and interpreter lock): the members
    sign up and browse; returns the timings (cold, solo, crowd) in seconds."""
    return asyncio.run(_drive(base, invites, quick))


async def _drive(base: str, invites: list[str], quick: bool) -> Timings:
    clients: list[aiohttp.ClientSession] = []
    solo: list[float] = []
    crowd: list[float] = []
    cold: list[float] = []
    try:
        for i, invite in enumerate(invites):
            clients.append(await _member(base, invite, f"bench{i}"))
        each = 2 if quick else CROWD_REQUESTS_EACH
        for chosen in FILTERS:
            for c in clients:
                status = await _form(c, "/alerts", "/alerts", chosen)
                if status != 303:
                    raise RuntimeError(f"choosing filters answered {status}")
            # The first page under a filter decodes and renders alerts no page showed
            # before (node/display.py, node/web/cards.py keep them afterwards).
            cold += await _timed_gets(clients[0], 1)
            solo += await _timed_gets(clients[0], 5 if quick else SOLO_REQUESTS // len(FILTERS))
            for times in await asyncio.gather(*(_timed_gets(c, each) for c in clients)):
                crowd += times
    finally:
        for c in clients:
            await c.close()
    return cold, solo, crowd


async def _run_size(n: int, quick: bool) -> None:
    pair = await pair_at(n)
    node = await start_node(pair.a_dir)
    app = web_app(node)
    # Twenty members sign up from one address (127.0.0.1): lift the per-client sign-up
    # limit (10 an hour) for this benchmark's own app only.
    app[STATE_KEY].limits.signup_client.limit = CROWD_MEMBERS + 1
    server = TestServer(app, host="127.0.0.1")
    members = 3 if quick else CROWD_MEMBERS
    # The members run in another process: on this loop, their twenty sessions would
    # parse 54 KB pages between the server's answers and their time would count in
    # every GET; in a thread they would still hold the same interpreter lock.
    clients = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        node.unlocked().settings.set("regions", list(REGIONS[:4]))
        await server.start_server()
        base = str(server.make_url(""))
        store, now = node.unlocked().store, int(time.time())
        invites = [
            str(await store.members.create_invite("member", now + 3600, now))
            for _ in range(members)
        ]
        loop = asyncio.get_running_loop()
        cold, solo, crowd = await loop.run_in_executor(clients, drive_clients, base, invites, quick)
        note(f"pages: {len(solo)} solo and {len(crowd)} crowd GETs at {n} alerts")
    finally:
        clients.shutdown()
        await server.close()
        await node.stop()
    detail = {"alerts": n, "filters": len(FILTERS), "members_at_once": members,
              "clients": "another process"}  # fmt: skip
    emit(f"pages.{n}.solo_p50", statistics.median(solo) * 1000, "ms",
         target=SOLO_P50_TARGET_MS, detail={**detail, "requests": len(solo)})  # fmt: skip
    emit(f"pages.{n}.solo_p99", _p(solo, 0.99) * 1000, "ms", detail=detail)
    emit(f"pages.{n}.cold_max", max(cold) * 1000, "ms",
         detail={**detail, "what": "first page under each filter, nothing kept yet"})  # fmt: skip
    emit(f"pages.{n}.crowd_p50", statistics.median(crowd), "s", detail=detail)
    emit(f"pages.{n}.crowd_p99", _p(crowd, 0.99), "s",
         target=CROWD_P99_TARGET_S, detail={**detail, "requests": len(crowd)})  # fmt: skip
