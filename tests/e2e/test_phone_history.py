"""What a seized phone's browser history shows (issue 14, item 2), in Debian's Chromium
at phone size against a real node: after a check, a filtered browse and a logout, no
URL the browser visited or keeps in its back history holds the number checked or a
filter chosen, and the logout left no session cookie behind.

Skipped when /usr/bin/chromium is missing, except under CI=true, where that fails.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.cli import alertnode
from tests.e2e.test_browser import (  # noqa: F401  (the node fixture is used by name)
    NUMBER,
    check,
    invite,
    node,
    shot,
    sign_up,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE_360 = {"width": 360, "height": 740}
# What the member chooses below; none of it may be in a URL she visited.
TELLING = ("7700", "900123", "sexual", "assault", "danger", "category", "region", "gb-lnd")


def _phone_page(chromium: Any) -> Any:
    context = chromium.new_context(viewport=PHONE_360)
    context.route(
        "https://www.bbc.com/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p>Sunny</p>"),
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def test_history_holds_no_check_value_or_filter(node: dict[str, Any], browser: Any) -> None:  # noqa: F811
    url = node["url"]
    out = alertnode(
        "alert",
        "publish",
        "--data",
        str(node["data"]),
        "--category",
        "sexual-assault",
        "--danger",
        "3",
        "--region",
        "GB-LND",
        "--phone",
        NUMBER,
        "--description",
        "Phone history test alert",
        "--json",
    )
    assert json.loads(out.stdout)["id"]
    page = _phone_page(browser)
    visited: list[str] = []
    page.context.on(
        "request", lambda r: visited.append(r.url) if r.is_navigation_request() else None
    )
    page.on("framenavigated", lambda frame: visited.append(frame.url))

    # The log-in form as the phone's browser sees it, in both states (issue 14, item 3).
    page.goto(url + "/login")
    assert page.get_attribute("#f-passphrase", "autocomplete") == "new-password"
    assert page.get_attribute("form[action='/login']", "autocomplete") == "off"
    shot(page, "32-login-no-saving-360")
    page.get_by_role("button", name="Let this browser save my passphrase").click()
    assert page.get_attribute("#f-passphrase", "autocomplete") == "current-password"
    shot(page, "33-login-saving-360")

    sign_up(page, url, invite(node, "member"), "hana")
    assert "1 alert matches" in check(page, url, NUMBER)
    page.goto(url + "/alerts")
    page.check("input[name=region][value=GB-LND]")
    page.select_option("#f-category", "sexual-assault")
    page.select_option("#f-danger", "3")
    with page.expect_navigation(url=url + "/alerts"):
        page.get_by_role("button", name="Show").click()
    assert "Phone history test alert" in page.inner_text("main")
    assert page.locator("#f-category").input_value() == "sexual-assault"  # kept in the session
    shot(page, "30-filtered-browse-360")
    with page.expect_navigation(url=url + "/"):
        page.locator("footer").get_by_role("button", name="Log out").click()
    shot(page, "31-after-logout-360")

    # The tab's back history, every entry as the browser keeps it (what the back
    # button and the history page would show someone holding the phone).
    cdp = page.context.new_cdp_session(page)
    entries = cdp.send("Page.getNavigationHistory")["entries"]
    back = [e["url"] for e in entries]
    assert len(back) == page.evaluate("history.length") and len(back) > 3, back

    urls = visited + back
    ours = [u for u in urls if u.startswith(url)]
    assert any(urlsplit(u).path == "/alerts" for u in ours)
    for u in ours:
        assert not urlsplit(u).query, u
        for word in TELLING:
            assert word not in u.casefold(), (word, u)
    assert [c for c in page.context.cookies() if c["name"] == "an_session"] == []
    page.context.close()
