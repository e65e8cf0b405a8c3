"""Guesses at the node passphrase through the web app are bounded for everyone
together (issue 12, item 11): the unlock form had a limit per address only (210
guesses in 48 s from 21 addresses), and the wipe page's limit was recorded after the
slow hash. Both now count every guess before it is checked, per client and globally."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import aiohttp
from aiohttp.test_utils import TestServer

from node.app import Node
from node.keys.slowhash import SlowHashPool
from node.web import web_app
from node.web.ratelimit import (
    NODE_PASSPHRASE_GUESSES_ALL_CLIENTS,
    UNLOCK_ATTEMPTS_PER_CLIENT,
    UNLOCK_WINDOW_S,
)
from tests.conftest import NodeFactory
from tests.node.test_web_support import Site, StillClock

T = TypeVar("T")
NODE_PASSPHRASE = "the node passphrase 5521"
ADDRESSES = 21
TOO_MANY = "Too many attempts"


class CountingPool(SlowHashPool):
    """The node's bounded pool, counting the slow functions it ran by name."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        self.calls.append(fn.__name__)
        return await super().run(fn, *args)


def _count_pool(node: Node) -> CountingPool:
    node.hashes.close()
    pool = CountingPool()
    node.hashes = pool
    return pool


async def _browser(server: TestServer, address: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A browser whose connections come from ``address`` (a loopback address)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as http:
        yield http


async def _unlock_guesses(server: TestServer, address: str, guesses: int) -> list[int]:
    """Post ``guesses`` wrong passphrases to the unlock form from ``address``."""
    statuses = []
    async for http in _browser(server, address):
        async with http.get(server.make_url("/")) as resp:
            token = re.search(r'name="csrf" value="([^"]+)"', await resp.text())
            assert token
        for n in range(guesses):
            async with http.post(
                server.make_url("/unlock"),
                data={"csrf": token.group(1), "passphrase": f"guess {address} {n}"},
                allow_redirects=False,
            ) as resp:
                html = await resp.text()
                statuses.append(429 if TOO_MANY in html else resp.status)
    return statuses


async def test_unlock_guesses_from_many_addresses_are_bounded_globally(
    make_node: NodeFactory,
) -> None:
    node = await make_node("A", passphrase=NODE_PASSPHRASE)
    await asyncio.sleep(0.01)  # let its jobs start before it stops
    clock = StillClock(int(time.time()))
    locked = await make_node.restart(node, clock=clock)  # type: ignore[attr-defined]
    assert locked.locked
    pool = _count_pool(locked)
    server = TestServer(web_app(locked))
    await server.start_server()
    try:
        # The reported attack: 21 addresses, each up to its own limit, in parallel.
        results = await asyncio.gather(
            *(
                _unlock_guesses(server, f"127.0.0.{10 + i}", UNLOCK_ATTEMPTS_PER_CLIENT)
                for i in range(ADDRESSES)
            )
        )
        statuses = [s for r in results for s in r]
        checked = len(pool.calls)
        print(
            f"{len(statuses)} unlock guesses from {ADDRESSES} addresses: "
            f"{checked} reached the slow hash, {statuses.count(429)} refused"
        )
        assert statuses.count(401) == NODE_PASSPHRASE_GUESSES_ALL_CLIENTS
        assert checked == NODE_PASSPHRASE_GUESSES_ALL_CLIENTS
        assert statuses.count(429) == len(statuses) - NODE_PASSPHRASE_GUESSES_ALL_CLIENTS
        # A fresh address is refused too: the budget is everyone's.
        assert await _unlock_guesses(server, "127.0.0.200", 1) == [429]
        assert len(pool.calls) == checked
        # After the window, the admin unlocks.
        clock.advance(UNLOCK_WINDOW_S)
        async for http in _browser(server, "127.0.0.201"):
            async with http.get(server.make_url("/")) as resp:
                token = re.search(r'name="csrf" value="([^"]+)"', await resp.text())
                assert token
            async with http.post(
                server.make_url("/unlock"),
                data={"csrf": token.group(1), "passphrase": NODE_PASSPHRASE},
                allow_redirects=False,
            ) as resp:
                assert resp.status == 303
        assert not locked.locked
    finally:
        await server.close()


async def test_wipe_page_guesses_at_the_node_passphrase_are_bounded_before_hashing(
    make_node: NodeFactory,
) -> None:
    node = await make_node("A", passphrase=NODE_PASSPHRASE, clock=StillClock(int(time.time())))
    server = TestServer(web_app(node))
    await server.start_server()
    site = Site(node, server)
    try:
        admins = [await site.member(f"root{i}", "admin") for i in range(3)]
        tokens = [await admin.token("/admin/wipe") for admin in admins]
        pool = _count_pool(node)
        guesses = 15  # per admin, all at once: more than any per-account limit

        async def guess(i: int, n: int) -> int:
            status, html, _ = await admins[i].post(
                "/admin/wipe",
                {"passphrase": f"wrong {i} {n}", "confirm": "yes"},
                csrf=tokens[i],
            )
            assert status == 400, status
            return 429 if TOO_MANY in html else 400

        answers = await asyncio.gather(
            *(guess(i, n) for i in range(len(admins)) for n in range(guesses))
        )
        checked = pool.calls.count("unlock")
        print(
            f"{len(answers)} parallel wipe-page guesses from {len(admins)} admins: "
            f"{checked} reached the slow hash"
        )
        assert checked <= NODE_PASSPHRASE_GUESSES_ALL_CLIENTS
        assert answers.count(429) >= len(answers) - NODE_PASSPHRASE_GUESSES_ALL_CLIENTS
        assert (node.data_dir / "keys.bin").exists() and not node.locked
    finally:
        await site.close()
