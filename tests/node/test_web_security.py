"""Safety of the pages: headers on every response, cookie flags, escaping, no inline
script or style, the locked page, and nothing from other sites."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from node.app import Node
from node.service import Draft
from node.web import SAFETY_HEADERS, web_app
from tests.node.test_web_support import Site, Visitor, site_fixture  # noqa: F401

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">&amp;'


def assert_safe_headers(resp: Any, what: str) -> None:
    for name, value in SAFETY_HEADERS.items():
        assert resp.headers.get(name) == value, (what, name, resp.headers.get(name))
    csp = resp.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp


async def test_safety_headers_on_every_kind_of_response(site: Site) -> None:
    anon = await site.visitor()
    member = await site.member("alice")
    checks: list[tuple[str, Visitor, str, str, int]] = [
        ("GET", anon, "/", "", 200),
        ("GET", anon, "/login", "", 200),
        ("GET", anon, "/static/style.css", "", 200),
        ("GET", anon, "/static/exit.js", "", 200),
        ("GET", anon, "/static/../app.py", "", 404),
        ("GET", anon, "/no-such-page", "", 404),
        ("GET", anon, "/check", "", 303),
        ("GET", anon, "/exit", "", 303),
        ("GET", anon, "/feed/abc.0123456789abcdef0123456789abcdef.atom", "", 404),
        ("GET", member, "/admin/members", "", 403),
        ("GET", member, "/reports/999.json", "", 404),
        ("GET", member, "/reports/999/save", "", 404),
        ("PUT", member, "/check", "", 405),
        ("POST", member, "/check", "csrf=wrong", 403),
        ("POST", member, "/report", "x=" + "a" * 70_000, 413),
    ]
    for method, who, path, body, status in checks:
        async with who.client.request(
            method,
            path,
            data=body or None,
            headers={"Content-Type": "application/x-www-form-urlencoded"} if body else None,
            allow_redirects=False,
        ) as resp:
            assert resp.status == status, (method, path, resp.status)
            assert_safe_headers(resp, f"{method} {path}")
            assert "Server-Timing" not in resp.headers


async def test_session_cookie_flags_and_no_persistent_cookies(site: Site) -> None:
    v = await site.visitor()
    await v.signup("alice")
    status, _, resp = await v.login("alice")
    assert status == 303
    cookies = resp.headers.getall("Set-Cookie")
    session = next(c for c in cookies if c.startswith("an_session="))
    assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/" in session
    assert "Secure" not in session  # plain HTTP on loopback; Secure when request.secure
    for cookie in cookies:
        assert "Max-Age" not in cookie and "expires" not in cookie.lower()
    _, _, resp = await v.switch_language("ru", "/check")
    lang_cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in lang_cookie and "Max-Age" not in lang_cookie


async def test_secure_cookie_flag_over_https(make_node: Any) -> None:
    from aiohttp.test_utils import make_mocked_request

    from node.web.site import headers_middleware, visit

    node = await make_node()
    app = web_app(node)
    request = make_mocked_request("GET", "/", app=app, headers={"Host": "x"})
    request = request.clone(scheme="https")
    visit(request).set_session = "abc"

    async def handler(_: Any) -> Any:
        return aiohttp.web.Response(text="ok")

    response = await headers_middleware(request, handler)
    morsel = response.cookies["an_session"]
    assert morsel["secure"] and morsel["httponly"] and morsel["samesite"] == "Strict"


async def test_hostile_text_is_shown_as_text_everywhere(site: Site) -> None:
    service = site.node.unlocked().alerts
    await service.publish(
        Draft(
            categories=["violence"],
            danger=3,
            region="GB-LND",
            indicators=[("phone", "+447700900123")],
            description=HOSTILE,
        )
    )
    member = await site.member("<b>x</b>")
    pages = [
        await member.get("/alerts"),
        await member.post("/check", {"kind": "phone", "value": "+447700900123"}, page="/check"),
        await member.post("/bulletin", {"region": "GB-LND", "lang": "en"}, page="/bulletin"),
        await member.get("/"),
    ]
    for status, html, _ in pages:
        assert status == 200
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "<b>x</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0][1]
    assert "&lt;b&gt;x&lt;/b&gt;" in pages[3][1]
    _, html, _ = await member.post("/feed", {"lang": "en"}, page="/feed")
    feed_path = "/" + re.search(r'value="http://[^/]+/([^"]+)"', html).group(1)  # type: ignore[union-attr]
    _, xml, _ = await member.get(feed_path)
    assert "<script>" not in xml and "&lt;script&gt;" in xml


async def test_pages_have_no_inline_script_style_or_other_sites(site: Site) -> None:
    admin = await site.member("root", "admin")
    paths = ["/", "/check", "/alerts", "/report", "/reports", "/account", "/feed", "/bulletin"]
    paths += ["/review", "/review/new", "/published", "/admin/members", "/admin/trust"]
    paths += ["/admin/audit", "/admin/settings"]
    for path in paths:
        _, html, _ = await admin.get(path)
        assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", html), path
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html), path
        external = re.findall(r'<[^>]*(?:src|href)="(?:https?:)?//[^>]*>', html)
        assert external == [], path  # even the way out goes through the node (/exit)
        assert 'id="quick-exit"' in html, path
        assert re.search(r"/static/exit\.[0-9a-f]{16}\.js", html), path
        assert html.count('name="csrf"') == html.count('method="post"'), path


async def test_quick_exit_link_and_beacon_end_the_session(site: Site) -> None:
    member = await site.member("alice")
    status, html, _ = await member.get("/check")
    exit_link = re.search(r'<a id="quick-exit"[^>]*href="([^"]+)"[^>]*data-csrf="([^"]+)"', html)
    assert exit_link and exit_link.group(1) == "/exit"
    status, _, _ = await member.post("/quick-exit", {"csrf": exit_link.group(2)})
    assert status == 204
    status, _, resp = await member.get("/check")
    assert status == 303 and resp.headers["Location"] == "/login"


async def test_locked_node_answers_503_everywhere_and_unlocks(site: Site) -> None:
    locked = Node(site.node.data_dir, site.node.config, clock=site.node.clock)
    server = TestServer(web_app(locked))
    await server.start_server()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            for path in ["/", "/check", "/login", "/admin/settings", "/feed/x.atom", "/nope"]:
                async with http.get(server.make_url(path), allow_redirects=False) as resp:
                    html = await resp.text()
                    assert resp.status == 503, path
                    assert "This service is locked" in html
                    assert_safe_headers(resp, path)
            async with http.get(server.make_url("/")) as resp:
                token = re.search(r'name="csrf" value="([^"]+)"', await resp.text()).group(1)  # type: ignore[union-attr]
            async with http.post(
                server.make_url("/unlock"),
                data={"csrf": token, "passphrase": "anything"},
                allow_redirects=False,
            ) as resp:
                assert resp.status == 303  # a key-file node opens whatever is typed
            async with http.get(server.make_url("/login")) as resp:
                assert resp.status == 200
    finally:
        await server.close()
        await locked.stop()
