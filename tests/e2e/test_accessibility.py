"""Every page of every role, in every installed language, on a 360x740 phone: axe-core
(through ``axe-playwright-python``) finds no serious or critical violation, no page
scrolls sideways, and every touch target is at least 44 px tall (issue 13, items 8 and
11).

One node process serves the whole walk: it starts locked (the locked page is walked in
every language), is unlocked through its own form, and then a member, a caseworker and
an admin sign up once. Each language gets one browser context, which swaps the role's
session cookie in and out instead of logging in again. The languages come from
``node.web.i18n.LANGUAGES``, so a language added there is walked without a change here.

Each language is a test of its own (about 40 pages), so the walk stays inside the
per-test timeout and pytest-xdist can spread the languages over its workers. The
findings of each are written to /tmp/a11y-walk/LANG.json for a person to read.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.web.context import LANG_COOKIE, SESSION_COOKIE
from node.web.i18n import LANGUAGES
from tests.e2e.cli import RunningNode, alertnode
from tests.e2e.test_browser import _require_chromium, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORT = {"width": 360, "height": 740}
MIN_TARGET_PX = 44
BLOCKING = {"serious", "critical"}
REPORT = Path("/tmp/a11y-walk")  # one JSON file of findings per language
NODE_PASSPHRASE = "a long node passphrase for the walk"

# What a finger has to hit: menu and footer links, buttons, form controls, the choice
# labels that wrap checkboxes and radios, disclosures. Links inside running text are
# exempt (WCAG 2.5.8's inline exception).
TARGETS = (
    "nav a, .foot a, .exitbar a.quick-exit, button, select, textarea, summary, label.choice,"
    " input:not([type=hidden]):not([type=checkbox]):not([type=radio])"
)
MEASURE_JS = """(args) => {
  const [selector, minimum] = args;
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;  // not shown (closed disclosure, print-only)
    if (r.height >= minimum) continue;
    const name = el.tagName.toLowerCase() + (el.className ? '.' + el.className : '');
    small.push(name + ' ' + Math.round(r.height) + 'px');
  }
  return {
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    small: small,
  };
}"""


AXE_RUN = "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)"


def new_context(browser: Any) -> Any:
    """A phone-sized context with axe-core loaded into every page before its own
    scripts (an init script is not subject to the page's Content-Security-Policy)."""
    from axe_playwright_python.base import AXE_SCRIPT

    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(script=AXE_SCRIPT)
    context.set_default_timeout(15_000)
    return context


def _cookie(url: str, name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value, "url": url}


@pytest.fixture(scope="module")
def walk_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _require_chromium()
    tmp = tmp_path_factory.mktemp("a11y")
    secret = tmp / "passphrase"
    secret.write_text(NODE_PASSPHRASE + "\n")
    data = tmp / "node"
    out = alertnode(
        "init",
        "--data",
        str(data),
        "--name",
        "Night Safety Project",
        "--passphrase-file",
        str(secret),
        "--region",
        "GB-LND",
        "--web",
        "127.0.0.1:0",
        "--fed",
        "127.0.0.1:0",
        "--json",
    )
    info = json.loads(out.stdout)
    running = RunningNode(data)  # no passphrase given: it waits, locked
    try:
        yield {"url": running.status["web"].rstrip("/"), "data": data, "invite": info["invite"]}
    finally:
        running.stop()


class Walk:
    """What the walk found, page by page."""

    def __init__(self) -> None:
        self.pages = 0
        self.violations: list[str] = []
        self.overflow: list[str] = []
        self.small: list[str] = []
        self.impacts: dict[str, int] = {}

    def look(self, page: Any, where: str) -> None:
        self.pages += 1
        violations = page.evaluate(AXE_RUN)
        for v in violations:
            key = f"{v.get('impact') or 'none'} {v['id']}"
            self.impacts[key] = self.impacts.get(key, 0) + 1
            if v.get("impact") in BLOCKING:
                self.violations.append(f"{where}: {v['id']} ({v['impact']}, {len(v['nodes'])})")
        m = page.evaluate(MEASURE_JS, [TARGETS, MIN_TARGET_PX])
        if m["scroll"] > m["inner"]:
            self.overflow.append(f"{where}: {m['scroll']} > {m['inner']}")
        self.small.extend(f"{where}: {s}" for s in m["small"])

    def summary(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "serious_or_critical": len(self.violations),
            "sideways": len(self.overflow),
            "small_targets": len(self.small),
            "axe_by_impact": self.impacts,
            "violations": self.violations,
            "overflow": self.overflow,
            "small": self.small,
        }


def _set_up(browser: Any, node: dict[str, Any], walk: Walk) -> dict[str, Any]:
    """Walk the locked page in every language, unlock, make one account of each role
    with something to review and something published; returns their session ids and
    the pages that need an id."""
    url = node["url"]
    for lang in LANGUAGES:
        context = new_context(browser)
        context.add_cookies([_cookie(url, LANG_COOKIE, lang)])
        page = context.new_page()
        page.goto(url + "/")
        walk.look(page, f"{lang} locked /")
        page.locator("summary").click()
        walk.look(page, f"{lang} locked / (unlock form open)")
        context.close()
    context = new_context(browser)
    page = context.new_page()
    page.goto(url + "/")
    page.locator("summary").click()
    page.fill("#f-passphrase", NODE_PASSPHRASE)
    with page.expect_navigation():
        page.locator("main button[type=submit]").click()
    context.close()

    def invite(role: str) -> str:
        out = alertnode("invite", "create", "--data", str(node["data"]), "--role", role, "--json")
        return str(json.loads(out.stdout)["code"])

    sessions: dict[str, str] = {}
    pages: dict[str, Any] = {}
    for role, code, nick in (
        ("member", invite("member"), "mina"),
        ("caseworker", invite("caseworker"), "cass"),
        ("admin", node["invite"], "root"),
    ):
        context = new_context(browser)
        page = context.new_page()
        sign_up(page, url, code, nick)
        if role == "member":
            for extra in ("", " Call 07700 900456 or @someone, <img src=x onerror=y>"):
                page.goto(url + "/report")
                page.check("input[name=categories][value=violence]")
                page.fill("#f-incident", datetime.date.today().isoformat())
                page.select_option("#f-region", "GB-LND")
                page.check("input[name=danger][value='3']")
                page.fill("#f-phone", "07700 900123")
                page.fill("#f-text", "He hit me and took the money back." + extra)
                page.check("input[name=share][value=network]")
                page.locator("main button[type=submit]").click()
                page.wait_for_url(url + "/reports")
            pages["save"] = page.locator("a[href$='/save']").first.get_attribute("href")
        if role == "caseworker":
            page.goto(url + "/review")
            links = page.locator("main article a[href^='/review/']")
            hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
            page.goto(url + hrefs[0])
            if "onerror" in page.input_value("#f-description"):
                hrefs.reverse()
                page.goto(url + hrefs[0])
            pages["review"] = hrefs[-1]  # the one with identifiers stays in the queue
            with page.expect_navigation():
                page.get_by_role("button", name="Publish", exact=True).click()
            assert page.url == url + "/published", page.inner_text("main")
            pages["supersede"] = page.locator("a[href^='/supersede/']").first.get_attribute("href")
        sessions[role] = next(c["value"] for c in context.cookies() if c["name"] == SESSION_COOKIE)
        context.close()
    return {"sessions": sessions, "pages": pages}


ANONYMOUS = ("/", "/login", "/signup", "/safety", "/resources", "/receipt", "/no-such-page")
MEMBER = (
    "/",
    "/check",
    "/alerts",
    "/report",
    "/reports",
    "{save}",
    "/account",
    "/feed",
    "/bulletin",
    "/safety",
    "/safety/print",
    "/resources",
    "/admin/members",  # refused: an error page in a member's session
    "/no-such-page",
)
CASEWORKER = ("/review", "{review}", "/review/new", "/published", "{supersede}")
ADMIN = (
    "/admin/members",
    "/admin/trust",
    "/admin/audit",
    "/admin/settings",
    "/admin/texts",
    "/admin/texts/en",
    "/admin/wipe",
)


@pytest.fixture(scope="module")
def accounts(walk_node: dict[str, Any], browser: Any) -> dict[str, Any]:
    """The locked page walked in every language, then the node unlocked and one account
    of each role made (once per test process)."""
    locked = Walk()
    made = _set_up(browser, walk_node, locked)
    return {**made, "locked": locked}


def check(walk: Walk, name: str) -> None:
    summary = walk.summary()
    REPORT.mkdir(exist_ok=True)
    (REPORT / f"{name}.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    assert not walk.violations, "\n".join(walk.violations)
    assert not walk.overflow, "\n".join(walk.overflow)
    assert not walk.small, "\n".join(walk.small[:40])
    # Every page's content sits in a landmark (the quick-exit bar too).
    assert not any(k.endswith(" region") for k in walk.impacts), walk.impacts


def test_the_locked_page_in_every_language(accounts: dict[str, Any]) -> None:
    check(accounts["locked"], "locked")


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_every_page_of_every_role(
    walk_node: dict[str, Any], accounts: dict[str, Any], browser: Any, lang: str
) -> None:
    """One browser context per language; each role's session cookie is swapped in."""
    url = walk_node["url"]
    sessions, ids = accounts["sessions"], accounts["pages"]
    walk = Walk()
    context = new_context(browser)
    page = context.new_page()
    for role, paths in (
        ("anonymous", ANONYMOUS),
        ("member", MEMBER),
        ("caseworker", CASEWORKER),
        ("admin", ADMIN),
    ):
        context.clear_cookies()
        cookies = [_cookie(url, LANG_COOKIE, lang)]
        if role != "anonymous":
            cookies.append(_cookie(url, SESSION_COOKIE, sessions[role]))
        context.add_cookies(cookies)
        for path in paths:
            page.goto(url + path.format(**ids))
            walk.look(page, f"{lang} {role} {path}")
        if role == "member":
            # A match, and a form sent with nothing in it (the error summary).
            page.goto(url + "/check")
            page.select_option("#f-kind", "phone")
            page.fill("#f-value", "+44 7700 900123")
            with page.expect_navigation():
                page.locator("main form button[type=submit]").first.click()
            walk.look(page, f"{lang} member check result")
            page.goto(url + "/report")
            with page.expect_navigation():
                page.locator("main form button[type=submit]").last.click()
            walk.look(page, f"{lang} member report errors")
        if role == "admin":
            page.goto(url + "/admin/settings")
            page.fill("#f-alert_hops", "9")
            with page.expect_navigation():
                page.locator("main form button[type=submit]").last.click()
            walk.look(page, f"{lang} admin settings errors")
    context.close()
    check(walk, lang)


def test_the_walk_can_fail(browser: Any) -> None:
    """A negative control: a page with an unlabelled field, a sideways-scrolling block and
    a small button is caught on all three counts."""
    context = new_context(browser)
    page = context.new_page()
    page.goto("about:blank")
    page.set_content(
        "<html lang=en><title>t</title><main><input><div style='width:500px'>wide</div>"
        "<button style='height:20px;min-height:0'>go</button></main></html>"
    )
    if not page.evaluate("typeof axe !== 'undefined'"):
        from axe_playwright_python.base import AXE_SCRIPT

        page.evaluate(AXE_SCRIPT)
    walk = Walk()
    walk.look(page, "control")
    context.close()
    assert any("label" in v for v in walk.violations), walk.violations
    assert walk.overflow and walk.small
