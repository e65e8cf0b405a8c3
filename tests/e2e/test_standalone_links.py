"""Links that stand alone are touch targets (issue 13 item 8), found from outside:
a link that is the whole content of its block (a menu item, a line of its own, a
heading, a table cell, the site's name) is measured at 360 px like a button; only
links inside running text are exempt (WCAG 2.5.8's inline exception).

The accessibility walk measures menus, buttons and fields by selector; q1's walk
found the home page's menu (19 px), the site's name (24 px), "Export" on
/admin/languages (18 px) and the lone links on /review, /reports and /safety
and /account, on the log-in and error pages (19-43 px) that the selector did not reach.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.cli import RunningNode, alertnode
from tests.e2e.test_browser import _require_chromium, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORT = {"width": 360, "height": 740}
MIN_TARGET_PX = 44

# A link is standalone when its block holds nothing but the link.
STANDALONE_JS = """(minimum) => {
  const small = [];
  for (const a of document.querySelectorAll('a[href]')) {
    const r = a.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || a.classList.contains('skip')) continue;
    const block = a.parentElement;
    if (block.textContent.trim() !== a.textContent.trim()) continue;  // in running text
    if (r.height < minimum) small.push(a.getAttribute('href') + ' ' + Math.round(r.height) + 'px');
  }
  return small;
}"""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _require_chromium()
    data = tmp_path_factory.mktemp("targets") / "node"
    out = alertnode(
        "init", "--data", str(data), "--name", "Night Safety Project", "--no-passphrase",
        "--region", "GB", "--web", "127.0.0.1:0", "--fed", "127.0.0.1:0", "--json",
    )  # fmt: skip
    running = RunningNode(data)
    try:
        yield {"url": running.status["web"].rstrip("/"), "data": data, **json.loads(out.stdout)}
    finally:
        running.stop()


def invite(node: dict[str, Any], role: str) -> str:
    out = alertnode("invite", "create", "--data", str(node["data"]), "--role", role, "--json")
    return str(json.loads(out.stdout)["code"])


def test_standalone_links_are_44_px_tall(node: dict[str, Any], browser: Any) -> None:
    url = node["url"]
    found: dict[str, list[str]] = {}

    def look(page: Any, path: str) -> None:
        page.goto(url + path)
        small = page.evaluate(STANDALONE_JS, MIN_TARGET_PX)
        if small:
            found[path] = small

    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    page = context.new_page()
    for path in ("/", "/login", "/no-such-page"):  # signed out: the ways in, an error
        look(page, path)
    sign_up(page, url, node["invite"], "root")  # the first admin, also a member
    page.goto(url + "/report")
    page.check("input[name=categories][value=violence]")
    page.fill("#f-incident", datetime.date.today().isoformat())
    page.select_option("#f-region", "GB")
    page.check("input[name=danger][value='2']")
    page.fill("#f-text", "Refused to pay.")
    page.check("input[name=share][value=network]")
    page.get_by_role("button", name="Send report").click()
    page.wait_for_url(url + "/reports")
    for path in (
        "/", "/account", "/reports", "/safety", "/review", "/published", "/admin/languages",
    ):  # fmt: skip
        look(page, path)
    context.close()
    assert found == {}
