"""What a seized phone's browser keeps (issue 14, items 2 and 3): no member choice in
any URL the app produces or redirects to, Clear-Site-Data and a dead session after
logout and quick exit, a session cookie that ends with the browser and sooner when
idle, and a log-in form that asks the browser not to save the passphrase unless the
member chose that on the page."""

from __future__ import annotations

import html as htmllib
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.test_utils import TestServer

from node.app import Node
from node.service import Draft
from node.setting_kinds import QUICK_EXIT_DEFAULT as QUICK_EXIT_URL
from node.web import web_app
from tests.node.test_web_flow import REPORT
from tests.node.test_web_support import PASSPHRASE, Site, Visitor, site_fixture  # noqa: F401

CLEARED = '"cache", "cookies", "storage"'
PHONE = "+447700900123"
# What the member chooses below; none of it may show in a URL.
CHOICES = ("7700900123", "7700 900", "sexual-assault", "GB-MAN", "danger", "region", "lang=")
URL_ATTR = re.compile(r'\b(?:href|action|src|formaction)="([^"]*)"')


class UrlLog:
    """Every URL a visitor's pages link to, post to or load, and every redirect."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}  # url -> where it was seen

    def page(self, where: str, html: str) -> None:
        for url in URL_ATTR.findall(html):
            self.urls.setdefault(htmllib.unescape(url), where)

    def answer(self, where: str, resp: Any) -> None:
        if "Location" in resp.headers:
            self.urls.setdefault(resp.headers["Location"], f"{where} (redirect)")

    def assert_clean(self) -> None:
        assert self.urls, "nothing was collected"
        for url, where in self.urls.items():
            if url.startswith("#") or url == QUICK_EXIT_URL:
                continue
            parts = urlsplit(url)
            assert not parts.query and "?" not in url, (url, where)
            for choice in CHOICES:
                assert choice.casefold() not in url.casefold(), (choice, url, where)


async def _crawl(visitor: Visitor, log: UrlLog, start: str = "/") -> int:
    """Follow every same-site GET link from ``start``; the number of pages seen."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        status, html, resp = await visitor.get(path)
        log.answer(path, resp)
        if status != 200 or "text/html" not in resp.headers.get("Content-Type", ""):
            continue
        log.page(path, html)
        for link in re.findall(r'<a [^>]*href="([^"]+)"', html):
            url = urljoin(path, htmllib.unescape(link))
            # Same site, not the way out, not a download.
            if url.startswith("/") and url not in ("/exit",) and not url.endswith(".json"):
                todo.append(url.split("#")[0] or "/")
    return len(seen)


async def _publish(site: Site) -> None:
    service = site.node.unlocked().alerts
    for region, category, danger in (("GB-MAN", "sexual-assault", 3), ("GB-LND", "robbery", 1)):
        await service.publish(
            Draft(
                categories=[category],
                danger=danger,
                region=region,
                indicators=[("phone", PHONE)],
                description=f"Alert in {region}",
            )
        )


async def test_no_member_choice_appears_in_any_url(site: Site) -> None:
    await _publish(site)
    member = await site.member("alice")
    log = UrlLog()

    async def post(path: str, data: dict[str, Any], page: str) -> tuple[int, str, Any]:
        status, html, resp = await member.post(path, data, page=page)
        log.answer(path, resp)
        if status == 200:
            log.page(f"POST {path}", html)
        return status, html, resp

    # A check: the value only in the body, the answer on the same neutral URL.
    status, html, _ = await post("/check", {"kind": "phone", "value": "+44 7700 900123"}, "/check")
    assert status == 200 and "2 alerts match" in html
    # A filtered browse: kept in the session, shown at the plain /alerts.
    status, _, resp = await post(
        "/alerts", {"region": "GB-MAN", "category": "sexual-assault", "danger": "3"}, "/alerts"
    )
    assert status == 303 and resp.headers["Location"] == "/alerts"
    status, html, _ = await member.get("/alerts")
    assert "Alert in GB-MAN" in html and "Alert in GB-LND" not in html
    # The feed address, the bulletin, a report sent and deleted, a language chosen.
    status, html, _ = await post("/feed", {"region": "GB-MAN", "lang": "fr"}, "/feed")
    assert status == 200 and ".atom" in html
    status, html, _ = await post("/bulletin", {"region": "GB-MAN", "lang": "es"}, "/bulletin")
    assert status == 200 and "Alert in GB-MAN" in html
    report = {**REPORT, "categories": "sexual-assault", "region": "GB-MAN"}
    status, html, _ = await post("/report", report, "/report")
    assert status == 303, html
    _, html, _ = await member.get("/reports")
    assert "Your report was sent" in html
    _, html, _ = await member.get("/reports")
    assert "Your report was sent" not in html  # a notice is shown once, then forgotten
    report_id = re.search(r'action="/reports/(\d+)/delete"', html).group(1)  # type: ignore[union-attr]
    await post(f"/reports/{report_id}/delete", {"confirm": "yes"}, "/reports")
    status, _, resp = await post("/lang", {"to": "fr", "next": "/alerts"}, "/alerts")
    assert status == 303 and resp.headers["Location"] == "/alerts"
    # Every page she can reach, in her language, after all that; then the way out.
    assert await _crawl(member, log) >= 8
    status, _, resp = await post("/logout", {}, "/check")
    assert status == 303
    log.assert_clean()


async def test_caseworker_and_admin_pages_put_no_choice_in_a_url(site: Site) -> None:
    await _publish(site)
    admin = await site.member("root", "admin")
    log = UrlLog()
    _, _, resp = await admin.post("/alerts", {"region": "GB-MAN"}, page="/alerts")
    log.answer("/alerts", resp)
    assert await _crawl(admin, log) >= 12
    _, _, resp = await admin.post("/admin/settings", {}, page="/admin/settings")
    log.answer("/admin/settings", resp)
    log.assert_clean()


def test_the_url_log_catches_a_choice() -> None:
    """Negative control: the check fails on the URLs the app produced before."""
    for url in ("/alerts?category=sexual-assault", "/reports?done=sent", "/lang?to=fr&next=/"):
        log = UrlLog()
        log.page("old", f'<a href="{url}">x</a>')
        try:
            log.assert_clean()
        except AssertionError:
            continue
        raise AssertionError(f"{url} passed")


async def test_logout_clears_the_site_and_ends_the_session(site: Site) -> None:
    member = await site.member("alice")
    sid = member.cookie("an_session")
    status, _, resp = await member.post("/logout", {}, page="/check")
    assert status == 303 and resp.headers["Location"] == "/"
    assert resp.headers["Clear-Site-Data"] == CLEARED
    assert not member.cookie("an_session")
    replay = await site.visitor()
    replay.client.session.cookie_jar.update_cookies({"an_session": sid})
    status, _, resp = await replay.get("/check")
    assert status == 303 and resp.headers["Location"] == "/login"


async def test_quick_exit_beacon_clears_the_site_and_ends_the_session(site: Site) -> None:
    member = await site.member("alice")
    sid = member.cookie("an_session")
    status, html, _ = await member.get("/check")
    token = re.search(r'id="quick-exit"[^>]*data-csrf="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    status, _, resp = await member.post("/quick-exit", {"csrf": token})
    assert status == 204 and resp.headers["Clear-Site-Data"] == CLEARED
    replay = await site.visitor()
    replay.client.session.cookie_jar.update_cookies({"an_session": sid})
    status, _, _ = await replay.get("/check")
    assert status == 303


async def test_quick_exit_link_goes_through_the_node_without_javascript(site: Site) -> None:
    member = await site.member("alice")
    sid = member.cookie("an_session")
    _, html, _ = await member.get("/check")
    assert re.search(r'<a id="quick-exit"[^>]*href="/exit"', html)
    status, _, resp = await member.get("/exit")
    assert status == 303 and resp.headers["Location"] == QUICK_EXIT_URL
    assert resp.headers["Clear-Site-Data"] == CLEARED
    replay = await site.visitor()
    replay.client.session.cookie_jar.update_cookies({"an_session": sid})
    status, _, _ = await replay.get("/check")
    assert status == 303
    assert len(site.state.sessions) == 0


async def test_quick_exit_leaves_a_locked_node_too(site: Site) -> None:
    locked = Node(site.node.data_dir, site.node.config, clock=site.node.clock)
    server = TestServer(web_app(locked))
    await server.start_server()
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(server.make_url("/exit"), allow_redirects=False) as resp,
        ):
            assert resp.status == 303 and resp.headers["Location"] == QUICK_EXIT_URL
            assert resp.headers["Clear-Site-Data"] == CLEARED
    finally:
        await server.close()
        await locked.stop()


async def test_session_cookie_ends_with_the_browser(site: Site) -> None:
    v = await site.visitor()
    await v.signup("alice")
    status, _, resp = await v.login("alice")
    assert status == 303
    cookie = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith("an_session="))
    assert "max-age" not in cookie.lower() and "expires" not in cookie.lower()


async def test_idle_timeout_follows_the_setting(site: Site) -> None:
    site.node.unlocked().settings.set("session_idle_minutes", 5)
    member = await site.member("alice")
    site.node.clock.advance(4 * 60)  # type: ignore[attr-defined]
    status, _, _ = await member.get("/check")
    assert status == 200
    site.node.clock.advance(5 * 60 + 1)  # type: ignore[attr-defined]
    status, _, resp = await member.get("/check")
    assert status == 303 and resp.headers["Location"] == "/login"
    assert len(site.state.sessions) == 0


# --- saved passphrases ---------------------------------------------------------------


def _login_form(html: str) -> str:
    return re.search(r'<form method="post" action="/login"[^>]*>.*?</form>', html, re.S).group(0)  # type: ignore[union-attr]


def _autocomplete(form: str, name: str) -> str:
    tag = re.search(rf'<input [^>]*name="{name}"[^>]*>', form).group(0)  # type: ignore[union-attr]
    return re.search(r'autocomplete="([^"]*)"', tag).group(1)  # type: ignore[union-attr]


async def test_login_form_asks_the_browser_not_to_save_by_default(site: Site) -> None:
    v = await site.visitor()
    status, html, _ = await v.get("/login")
    assert status == 200
    form = _login_form(html)
    assert re.search(r'<form [^>]*autocomplete="off"', form)
    assert _autocomplete(form, "nickname") == "off"
    assert _autocomplete(form, "passphrase") == "new-password"
    assert 'name="save"' not in form
    assert "choose “Never”" in html
    assert 'action="/login/save"' in html
    # A failed attempt comes back in the same state.
    await v.signup("alice")
    v2 = await site.visitor()
    status, html, _ = await v2.post("/login", {"nickname": "alice", "passphrase": "wrong one!"})
    assert status == 400
    assert _autocomplete(_login_form(html), "passphrase") == "new-password"


async def test_a_member_can_let_her_browser_save_the_passphrase(site: Site) -> None:
    await (await site.visitor()).signup("alice")
    v = await site.visitor()
    status, html, _ = await v.post("/login/save", {}, page="/login")
    assert status == 200
    form = _login_form(html)
    assert not re.search(r'<form [^>]*autocomplete="off"', form)
    assert _autocomplete(form, "nickname") == "username"
    assert _autocomplete(form, "passphrase") == "current-password"
    assert '<input type="hidden" name="save" value="1">' in form
    assert "may now offer to save" in html
    # A mistyped passphrase keeps the choice; a right one logs in as usual.
    status, html, _ = await v.post(
        "/login", {"nickname": "alice", "passphrase": "wrong one!", "save": "1"}, page="/login"
    )
    assert status == 400
    assert _autocomplete(_login_form(html), "passphrase") == "current-password"
    status, _, _ = await v.post(
        "/login", {"nickname": "alice", "passphrase": PASSPHRASE, "save": "1"}, page="/login"
    )
    assert status == 303
    # Nothing was kept: the next visitor, and the next visit, get the default form.
    status, html, _ = await (await site.visitor()).get("/login")
    assert _autocomplete(_login_form(html), "passphrase") == "new-password"


async def test_signup_form_asks_the_browser_not_to_save(site: Site) -> None:
    v = await site.visitor()
    _, html, _ = await v.get("/signup")
    form = re.search(r'<form method="post" action="/signup"[^>]*>', html).group(0)  # type: ignore[union-attr]
    assert 'autocomplete="off"' in form and "choose “Never”" in html


async def test_kept_filters_are_the_checked_values_only(site: Site) -> None:
    member = await site.member("alice")
    many = [("region", "GB-LND")] * 500 + [("category", "robbery")]
    status, _, _ = await member.post("/alerts", [("csrf", await member.token("/alerts")), *many])
    assert status == 303
    (kept,) = [s.browse for s in site.state.sessions._by_id.values()]
    assert kept == {"region": ["GB-LND"], "category": ["robbery"], "danger": [""]}
