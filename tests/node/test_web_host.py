"""The web app on a fake ``Host``: it needs only what the Protocol names, and the errors
middleware answers a stray protocol error with the error's 4xx status, not a 500."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from federation.clock import Clock, FakeClock
from node.app import Unlocked
from node.errors import Locked
from node.web import Host, web_app
from node.web.host import HashPool
from protocol.errors import (
    BadSignature,
    InvalidField,
    LimitExceeded,
    MalformedObject,
    ProtocolError,
)
from tests.node.test_web_security import assert_safe_headers

T = TypeVar("T")
SECRET = "+447700900123"  # stands for anything a visitor sent: never echoed on the page


class FakePool:
    async def blind(self, kind: str, text: str, default_region: str) -> tuple[str, bytes]:
        return text, b"\0" * 32

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(*args)


class FakeHost:
    """A node that is not locked but has nothing open: enough for anonymous pages."""

    def __init__(self, locked: bool = False) -> None:
        self._clock = FakeClock(1_700_000_000)
        self._pool = FakePool()
        self._locked = locked

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def name(self) -> str:
        return "Fake organisation"

    @property
    def hashes(self) -> HashPool:
        return self._pool

    @property
    def locked(self) -> bool:
        return self._locked

    @property
    def has_passphrase(self) -> bool:
        return True

    def unlocked(self) -> Unlocked:
        raise Locked("the fake node has nothing open")

    async def unlock(self, passphrase: str | None) -> None:
        self._locked = False

    async def passphrase_opens(self, passphrase: str) -> bool:
        return False

    async def wipe(self) -> dict[str, Any]:
        return {"wiped": True}


RAISED: dict[str, ProtocolError] = {
    "/boom/field": InvalidField("indicator", f"{SECRET} is not allowed"),
    "/boom/limit": LimitExceeded(f"too long: {SECRET}"),
    "/boom/signature": BadSignature(f"bad signature over {SECRET}"),
    "/boom/malformed": MalformedObject(f"cannot decode {SECRET}"),
}


def app_on(host: Host) -> web.Application:
    app = web_app(host)

    def raiser(exc: Exception) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.Response:
            raise exc

        return handler

    for path, exc in RAISED.items():
        app.router.add_get(path, raiser(exc))
    app.router.add_get("/boom/bug", raiser(RuntimeError(SECRET)))
    return app


@pytest.fixture(name="http")
async def http_fixture() -> AsyncIterator[tuple[TestServer, aiohttp.ClientSession]]:
    server = TestServer(app_on(FakeHost()))
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield server, session
    await server.close()


async def test_a_stray_protocol_error_is_answered_with_its_4xx_status(
    http: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    server, session = http
    for path, exc in RAISED.items():
        async with session.get(server.make_url(path)) as resp:
            html = await resp.text()
        assert resp.status == exc.status and 400 <= resp.status < 500, (path, resp.status)
        assert SECRET not in html, path
        assert_safe_headers(resp, path)
    # The negative control: any other exception is still a 500.
    async with session.get(server.make_url("/boom/bug")) as resp:
        assert resp.status == 500 and SECRET not in await resp.text()


async def test_the_web_app_serves_pages_from_a_host_that_is_not_a_node(
    http: tuple[TestServer, aiohttp.ClientSession],
) -> None:
    server, session = http
    async with session.get(server.make_url("/")) as resp:
        html = await resp.text()
    # Pages carry the public name (node/texts.py), never the organisation's own.
    assert resp.status == 200 and "<title>Community notes</title>" in html
    assert "Fake organisation" not in html
    # A page that needs the open store meets the fake's Locked: the locked page.
    token = "abc." + "0" * 32
    async with session.get(server.make_url(f"/feed/{token}.atom")) as resp:
        assert resp.status == 503 and "This service is locked" in await resp.text()
    locked = TestServer(app_on(FakeHost(locked=True)))
    await locked.start_server()
    try:
        async with session.get(locked.make_url("/login")) as resp:
            assert resp.status == 503 and "This service is locked" in await resp.text()
    finally:
        await locked.close()


def test_web_modules_reach_the_node_only_through_host() -> None:
    """No node/web module imports node.app at run time or reaches for the node's
    files, keys or positional parts."""
    web_dir = Path(__file__).resolve().parents[2] / "node" / "web"
    for path in sorted(web_dir.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for banned in ("require(", "require_peering", "data_dir", "data_key", ".blinder"):
            assert banned not in source, (path.name, banned)
        tree = ast.parse(source)
        guarded = {
            id(n)
            for top in tree.body
            if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test)
            for n in ast.walk(top)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and id(node) not in guarded:
                target = "." * node.level + (node.module or "")
                assert target not in ("..app", "node.app"), path.name
