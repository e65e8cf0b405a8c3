"""Fixtures and helpers for the web app's in-process tests (no tests of its own).

A ``Site`` is a real node (key-file mode, fake clock) with the web app served by
aiohttp's test server; each ``Visitor`` is one browser: its own client and cookies.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from federation.clock import FakeClock
from node.app import Node
from node.web import web_app
from node.web.site import STATE_KEY, WebState
from node.web.work import solve

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
CHALLENGE_RE = re.compile(r'name="pow_challenge" value="([^"]+)"')
PASSPHRASE = "a long enough passphrase"
WORK_FORMS = ("/login", "/signup")


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def work_of(html: str) -> dict[str, str]:
    """The proof-of-work fields of a log-in or sign-up page, solved as the page's
    script would (node/web/work.py's reference solver); {} for other pages."""
    match = CHALLENGE_RE.search(html)
    if not match:
        return {}
    return {"pow_challenge": match.group(1), "pow": str(solve(match.group(1)))}


class StillClock(FakeClock):
    """Moves only when a test advances it; background jobs really sleep (FakeClock's
    sleep advances time, which would run the hourly retention job in a tight loop)."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Visitor:
    def __init__(self, site: Site, client: TestClient[Any, Any]) -> None:
        self.site = site
        self.client = client

    async def get(self, path: str, **kw: Any) -> tuple[int, str, Any]:
        async with self.client.get(path, allow_redirects=False, **kw) as resp:
            return resp.status, await resp.text(), resp

    async def token(self, path: str = "/") -> str:
        status, html, _ = await self.get(path)
        assert status == 200, (status, html)
        return csrf_of(html)

    async def post(
        self, path: str, data: Any, *, page: str | None = None, csrf: str | None = None, **kw: Any
    ) -> tuple[int, str, Any]:
        """POST ``data`` as the page's form would: with the CSRF token (unless given)
        and, on the log-in and sign-up forms, a solved proof of work (unless
        ``pow_challenge`` is given: tests of the work itself set it)."""
        if isinstance(data, dict):
            data = dict(data)
            if "csrf" not in data and csrf is not None:
                data["csrf"] = csrf
            worked = path in WORK_FORMS and "pow_challenge" not in data
            if "csrf" not in data or worked:
                status, html, _ = await self.get(page or path)
                assert status == 200, (status, html)
                data.setdefault("csrf", csrf_of(html))
                if worked:
                    data.update(work_of(html))
        async with self.client.post(path, data=data, allow_redirects=False, **kw) as resp:
            return resp.status, await resp.text(), resp

    async def signup(self, nickname: str, role: str = "member") -> None:
        code = await self.site.invite(role)
        status, html, _ = await self.post(
            "/signup",
            {
                "invite": code,
                "nickname": nickname,
                "passphrase": PASSPHRASE,
                "passphrase2": PASSPHRASE,
            },
        )
        assert status == 303, html

    async def login(self, nickname: str, passphrase: str = PASSPHRASE) -> tuple[int, str, Any]:
        return await self.post("/login", {"nickname": nickname, "passphrase": passphrase})

    async def switch_language(self, lang: str, next_page: str = "/") -> tuple[int, str, Any]:
        """The footer's language buttons: a POST, so the choice is in no URL."""
        return await self.post("/lang", {"to": lang, "next": next_page}, page="/")

    def cookie(self, name: str) -> str | None:
        for c in self.client.session.cookie_jar:
            if c.key == name:
                return c.value
        return None


class Site:
    def __init__(self, node: Node, server: TestServer) -> None:
        self.node = node
        self.server = server
        self.clients: list[TestClient[Any, Any]] = []

    @property
    def state(self) -> WebState:
        return self.server.app[STATE_KEY]

    @property
    def store(self) -> Any:
        return self.node.unlocked().store

    async def visitor(self, **headers: str) -> Visitor:
        client: TestClient[Any, Any] = TestClient(self.server, headers=headers or None)
        await client.start_server()
        self.clients.append(client)
        return Visitor(self, client)

    async def invite(self, role: str = "member") -> str:
        now = self.node.clock.now()
        return str(await self.store.members.create_invite(role, now + 86400, now))

    async def member(self, nickname: str, role: str = "member") -> Visitor:
        v = await self.visitor()
        await v.signup(nickname, role)
        return v

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        await self.server.close()


@pytest.fixture(name="site")
async def site_fixture(make_node: Any) -> AsyncIterator[Site]:
    node = await make_node(clock=StillClock(int(time.time())))
    settings = node.unlocked().settings
    settings.set("regions", ["GB-LND", "GB-MAN"])
    server = TestServer(web_app(node))
    await server.start_server()
    s = Site(node, server)
    try:
        yield s
    finally:
        await s.close()
