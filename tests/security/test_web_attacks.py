"""Red-team tests of the web app, run against a real in-process node over HTTP.

Each test is one attack, done the way the people named in issue 7 would do it: an
abusive client or a curious outsider forging requests from another site, planting a
session, guessing passphrases, listing members or numbers; a hostile peer organisation
sending markup in its alerts and its own name; anyone asking for files outside the
static folder or for another member's report. Each asserts the attack fails and that
honest use still works. (tests/node/test_web_*.py hold the functional tests of the same
mechanisms; this file attacks them end to end.)
"""

from __future__ import annotations

import asyncio
import datetime
import re
import xml.etree.ElementTree as ET
from typing import TypeVar

import pytest

from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually, has_alert, pair
from tests.node.test_web_forms import snapshot
from tests.node.test_web_support import PASSPHRASE, Site, Visitor, csrf_of, site_fixture  # noqa: F401

T = TypeVar("T")
INCIDENT = (datetime.date.today() - datetime.timedelta(days=2)).isoformat()
SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
JS_URL = "javascript:alert(3)"
BREAKOUT = "\"'></textarea></title><svg onload=alert(4)>"
HOSTILE = f"{SCRIPT} {IMG} {JS_URL} {BREAKOUT} ]]> &amp; &#x3C;"
RAW_MARKUP = ("<script>alert", "<img src=x", "<svg onload", "</textarea></title>")


def assert_escaped(html: str, where: str) -> None:
    for raw in RAW_MARKUP:
        assert raw not in html, (where, raw)
    assert not re.search(r"(?:href|src|action|formaction)=[\"']?\s*javascript:", html, re.I), where


# --- cross-site request forgery ---------------------------------------------------------

# Every POST route, with fields that would succeed given a valid token.
POSTS: list[tuple[str, dict[str, str]]] = [
    ("/check", {"kind": "phone", "value": "+447700900123"}),
    (
        "/report",
        {
            "categories": "violence",
            "incident": INCIDENT,
            "region": "GB-LND",
            "danger": "2",
            "text": "He refused to pay.",
            "share": "node",
        },
    ),
    ("/account/passphrase", {"current": PASSPHRASE, "new": "x" * 12, "new2": "x" * 12}),
    ("/account/delete", {"confirm": "yes", "passphrase": PASSPHRASE}),
    (
        "/review/new",
        {
            "categories": "violence",
            "danger": "2",
            "region": "GB-LND",
            "incident": INCIDENT,
            "description": "x",
            "lang": "en",
            "hops": "1",
            "tlp": "GREEN",
            "expires_days": "30",
            "action": "publish",
        },
    ),
    ("/admin/invites", {"role": "admin", "days": "3"}),
    ("/admin/settings", {"regions": "XX", "phone_region": "GB", "checks_per_hour": "9999"}),
    ("/admin/trust", {"op": "remove", "key": "x", "confirm": "yes"}),
    ("/admin/members/1/revoke", {"confirm": "yes"}),
    ("/logout", {}),
    ("/quick-exit", {}),
    ("/alerts", {"region": "GB-LND", "danger": "3"}),
    ("/feed", {"region": "GB-LND", "lang": "en"}),
    ("/bulletin", {"region": "GB-LND", "lang": "en"}),
    ("/lang", {"to": "fr", "next": "/"}),
]


async def test_csrf_no_token_foreign_token_and_cross_site_origin_change_nothing(
    site: Site,
) -> None:
    admin = await site.member("root", "admin")
    other = await site.member("other", "admin")
    foreign = await other.token("/check")  # a valid token, of another session
    anon = await site.visitor()
    pre_token = await anon.token("/login")  # a valid pre-session token, of a visitor
    before = await snapshot(site)
    evil = {"Origin": "https://evil.example", "Referer": "https://evil.example/x"}
    for path, fields in POSTS:
        for token, headers in ((None, {}), ("", {}), (foreign, {}), (pre_token, {}), (None, evil)):
            data = dict(fields) if token is None else {**fields, "csrf": token}
            async with admin.client.post(
                path, data=data, headers=headers, allow_redirects=False
            ) as resp:
                assert resp.status == 403, (path, token, resp.status)
                assert "did not come from this site" in await resp.text()
    assert await snapshot(site) == before
    # The session survived all of it (logout and quick exit were refused too).
    status, _, _ = await admin.get("/check")
    assert status == 200


async def test_session_cookie_is_never_sent_cross_site(site: Site) -> None:
    # SameSite=Strict: a browser leaves the cookie off any request another site starts,
    # so even a GET from evil.example arrives logged out.
    v = await site.visitor()
    await v.signup("alice")
    status, _, resp = await v.login("alice")
    assert status == 303
    cookie = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith("an_session="))
    assert "SameSite=Strict" in cookie and "HttpOnly" in cookie


# --- session fixation -------------------------------------------------------------------


async def test_session_fixation_with_a_planted_cookie_or_token(site: Site) -> None:
    await (await site.visitor()).signup("alice")
    attacker = await site.visitor()
    pre = await attacker.token("/login")
    planted_pre = attacker.cookie("an_pre")
    victim = await site.visitor()
    victim.client.session.cookie_jar.update_cookies(
        {"an_session": "planted-by-attacker", "an_pre": planted_pre or ""}
    )
    status, _, resp = await victim.post("/login", {"nickname": "alice", "passphrase": PASSPHRASE})
    assert status == 303
    issued = resp.cookies["an_session"].value
    assert issued != "planted-by-attacker" and issued in site.state.sessions
    assert "planted-by-attacker" not in site.state.sessions
    # Neither the planted id nor the attacker's pre-session token reaches the account.
    attacker.client.session.cookie_jar.update_cookies({"an_session": "planted-by-attacker"})
    status, _, resp = await attacker.get("/check")
    assert status == 303 and resp.headers["Location"] == "/login"
    async with attacker.client.post("/report", data={"csrf": pre}, allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/login"
    # The victim's own session token differs from any pre-session token.
    assert csrf_of((await victim.get("/check"))[1]) != pre


# --- script injection through every text field -------------------------------------------


async def test_script_injection_through_every_text_field(site: Site) -> None:
    settings = site.node.unlocked().settings
    admin = await site.member("root", "admin")
    # A nickname can hold no spaces, so it gets the markup without them.
    nick_markup = "<script>alert(1)</script>"
    member = await site.member(nick_markup)
    status, _, _ = await member.post(
        "/report",
        {
            "categories": "violence",
            "incident": INCIDENT,
            "region": "GB-LND",
            "danger": "3",
            "phone": "+447700900123",
            "person": HOSTILE,
            "text": HOSTILE,
            "share": "network",
        },
        page="/report",
    )
    assert status == 303
    report = (await site.store.reports.list())[0].id
    # The caseworker publishes it with the hostile description kept.
    status, html, _ = await admin.post(
        f"/review/{report}",
        {
            "categories": "violence",
            "danger": "3",
            "region": "GB-LND",
            "incident": INCIDENT,
            "description": HOSTILE,
            "phone": "+447700900123",
            "lang": "en",
            "hops": "1",
            "tlp": "GREEN",
            "expires_days": "30",
            "action": "publish",
            "keep_findings": "1",
        },
        page=f"/review/{report}",
    )
    assert status == 303, html
    alert_id = (await site.node.unlocked().alerts.list())[0]["id"]
    # Forms that show back what was typed, with markup in every text field.
    echoes = [
        ("/signup", "/signup", {"invite": HOSTILE, "nickname": HOSTILE, "passphrase": "x"}),
        ("/login", "/login", {"nickname": HOSTILE, "passphrase": HOSTILE}),
        ("/check", "/check", {"kind": "phone", "value": HOSTILE}),
        ("/check", "/check", {"kind": HOSTILE, "value": HOSTILE}),
        ("/report", "/report", {"text": HOSTILE, "person": HOSTILE, "region": HOSTILE}),
        ("/review/new", "/review/new", {"description": HOSTILE, "other": HOSTILE}),
        ("/review/new", "/review/new", {"description": HOSTILE, "action": "preview"}),
        ("/admin/trust", "/admin/trust", {"op": "add", "card": HOSTILE, "accept": "relay"}),
        ("/admin/trust", "/admin/trust", {"op": "set", "key": HOSTILE, "accept": HOSTILE}),
        ("/admin/invites", "/admin/members", {"role": HOSTILE, "days": HOSTILE}),
        ("/admin/settings", "/admin/settings", {"regions": HOSTILE, "phone_region": HOSTILE}),
        (f"/published/{alert_id}/retract", "/published", {"reason": HOSTILE}),
    ]
    for path, page, fields in echoes:
        _, html, _ = await admin.post(path, fields, page=page)
        assert_escaped(html, path)
    settings.set("regions", [])  # free-text region codes: checked, then shown
    _, html, _ = await admin.post("/report", {"region": HOSTILE, "text": "x"}, page="/report")
    assert_escaped(html, "/report free region")
    _, html, _ = await admin.post(
        "/bulletin", {"region": "<script>", "lang": "en"}, page="/bulletin"
    )
    assert_escaped(html, "/bulletin free region")
    settings.set("regions", ["GB-LND", "GB-MAN"])
    # Every page that shows what was stored.
    pages = [
        "/",
        "/alerts",
        "/reports",
        "/review",
        f"/review/{report}",
        "/published",
        f"/supersede/{alert_id}",
        "/admin/members",
        "/admin/audit",
    ]
    for path in pages:
        status, html, _ = await admin.get(path)
        assert status == 200, path
        assert_escaped(html, path)
    status, html, _ = await admin.post(
        "/bulletin", {"region": "GB-LND", "lang": "en"}, page="/bulletin"
    )
    assert status == 200
    assert_escaped(html, "/bulletin")
    for path in ("/", "/reports", "/alerts"):
        _, html, _ = await member.get(path)
        assert_escaped(html, f"member {path}")
    _, html, _ = await admin.get("/admin/members")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the nickname, as text
    # The member's own saved copy is plain text, served as such (never sniffed as HTML).
    token = await member.token(f"/reports/{report}/save")
    async with member.client.post(
        f"/reports/{report}/save", data={"csrf": token, "confirm": "yes"}
    ) as resp:
        assert resp.content_type == "text/plain"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "attachment" in resp.headers["Content-Disposition"]


# --- hostile alerts (and a hostile name) from a peer --------------------------------------


async def test_markup_in_a_peers_alert_and_name_is_shown_as_text(
    site: Site, make_node: NodeFactory
) -> None:
    peer_name = f"{SCRIPT[:40]} Org"
    b = await make_node(peer_name)
    a = site.node
    await pair(a, b)
    alert_id = await b.unlocked().alerts.publish(
        draft(1, region="GB-LND", phone="+447700900123", description=HOSTILE)
    )
    await a.unlocked().trust.sync_now()
    await eventually(lambda: has_alert(a, alert_id))
    admin = await site.member("root", "admin")
    status, html, _ = await admin.post(
        "/check", {"kind": "phone", "value": "+447700900123"}, page="/check"
    )
    assert status == 200 and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    pages = [("check", html)]
    for path in ("/alerts", "/review", "/published", "/admin/trust"):
        status, page, _ = await admin.get(path)
        assert status == 200, path
        pages.append((path, page))
    # The filtered browse and the bulletin: chosen by POST (never in a URL).
    status, _, _ = await admin.post("/alerts", {"region": "GB-LND", "danger": "3"}, page="/alerts")
    assert status == 303
    status, page, _ = await admin.get("/alerts")
    assert status == 200
    pages.append(("/alerts filtered", page))
    status, page, _ = await admin.post(
        "/bulletin", {"region": "GB-LND", "lang": "en"}, page="/bulletin"
    )
    assert status == 200
    pages.append(("/bulletin", page))
    for where, page in pages:
        assert_escaped(page, where)
    assert any(peer_name.replace("<", "&lt;").replace(">", "&gt;") in p for _, p in pages)
    # The Atom feed is well-formed XML whose entry holds the description as text.
    _, html, _ = await admin.post("/feed", {"lang": "en", "region": "GB-LND"}, page="/feed")
    feed_url = re.search(r'value="(http://[^"]+\.atom)"', html)
    assert feed_url
    async with admin.client.get(feed_url.group(1).split("/", 3)[3].join(["/", ""])) as resp:
        assert resp.status == 200 and resp.content_type == "application/atom+xml"
        xml = await resp.text()
    assert_escaped(xml, "atom")
    root = ET.fromstring(xml)  # noqa: S314  (our own output, parsed to check it is well-formed)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    contents = [e.findtext("a:content", namespaces=ns) or "" for e in root.findall("a:entry", ns)]
    authors = [e.findtext("a:author/a:name", namespaces=ns) for e in root.findall("a:entry", ns)]
    assert any(HOSTILE in c for c in contents)
    assert peer_name in authors


# --- path traversal ------------------------------------------------------------------------

TRAVERSALS = [
    "/static/../app.py",
    "/static/..%2fapp.py",
    "/static/%2e%2e/app.py",
    "/static/%2e%2e%2fapp.py",
    "/static/%252e%252e/app.py",
    "/static/..%5capp.py",
    "/static/....//app.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/node.toml",
    "/static/../web/app.py",
    "/static/style.css/../../app.py",
    "/static/",
    "/static/%00",
    "/reports/../admin/members",
    "/feed/..%2f..%2fnode.toml.0123456789abcdef0123456789abcdef.atom",
]


async def raw_get(site: Site, path: str) -> tuple[int, bytes]:
    """GET ``path`` byte for byte as written (an HTTP client would normalise the dots)."""
    reader, writer = await asyncio.open_connection(site.server.host, site.server.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


@pytest.mark.parametrize("path", TRAVERSALS)
async def test_path_traversal_reaches_no_file(site: Site, path: str) -> None:
    status, body = await raw_get(site, path)
    assert status in (303, 400, 403, 404), (path, status)
    for secret in (b"import ", b"root:", b"[node]", b"name =", b"def "):
        assert secret not in body, (path, secret)
    status, body = await raw_get(site, "/static/style.css")  # the folder itself still serves
    assert status == 200 and body


async def test_another_members_report_cannot_be_downloaded_or_deleted(site: Site) -> None:
    alice = await site.member("alice")
    await alice.post(
        "/report",
        {
            "categories": "violence",
            "incident": INCIDENT,
            "region": "GB-LND",
            "danger": "2",
            "text": "Alice's own words.",
            "share": "node",
        },
        page="/report",
    )
    report = (await site.store.reports.list())[0].id
    mallory = await site.member("mallory")
    for path in (f"/reports/{report}/save", f"/reports/{report:05d}/save"):
        status, body, _ = await mallory.get(path)
        assert status == 404 and "Alice's own words" not in body
        status, body, _ = await mallory.post(path, {"confirm": "yes"}, page="/reports")
        assert status == 404 and "Alice's own words" not in body
    status, _, _ = await mallory.post(f"/reports/{report}/delete", {}, page="/reports")
    assert status == 404
    anon = await site.visitor()
    status, _, resp = await anon.get(f"/reports/{report}/save")
    assert status == 303 and resp.headers["Location"] == "/login"
    # A member is not a caseworker: the review pages are closed to them.
    for path in (f"/review/{report}", "/review"):
        assert (await mallory.get(path))[0] == 403
    # The owner still has it.
    status, body, _ = await alice.post(
        f"/reports/{report}/save", {"confirm": "yes"}, page=f"/reports/{report}/save"
    )
    assert status == 200 and "Alice's own words" in body
