"""Issue 13 (points 2, 4, 5), in real Chromium at 360x740 against a node started with
``alertnode run``: the match warning, a confirmation step without JavaScript, an
invite page reloaded, and the quick exit without JavaScript followed by Back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.cli import RunningNode, alertnode
from tests.e2e.test_browser import (
    NEUTRAL_PAGE,
    PASSPHRASE,
    _require_chromium,
    invite,
    route_quick_exit,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE_360 = {"width": 360, "height": 740}
NUMBER = "+44 7700 900123"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _require_chromium()
    data = tmp_path_factory.mktemp("issue13-w1") / "node"
    out = alertnode(
        "init", "--data", str(data), "--name", "Night Safety Project", "--no-passphrase",
        "--region", "GB-LND", "--web", "127.0.0.1:0", "--fed", "127.0.0.1:0", "--json",
    )  # fmt: skip
    running = RunningNode(data)
    try:
        yield {
            "url": running.status["web"].rstrip("/"),
            "data": data,
            "admin_invite": json.loads(out.stdout)["invite"],
        }
    finally:
        running.stop()


def phone_page(browser: Any, **kw: Any) -> Any:
    context = browser.new_context(viewport=PHONE_360, **kw)
    context.route(
        "https://www.google.com/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=NEUTRAL_PAGE),
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def sign_up(page: Any, url: str, code: str, nickname: str) -> None:
    page.goto(url + "/signup")
    page.fill("#f-invite", code)
    page.fill("#f-nickname", nickname)
    page.fill("#f-passphrase", PASSPHRASE)
    page.fill("#f-passphrase2", PASSPHRASE)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(url + "/")


def no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"))


def publish(node: dict[str, Any], danger: int, phone: str) -> str:
    out = alertnode(
        "alert", "publish", "--data", str(node["data"]), "--category", "violence",
        "--danger", str(danger), "--region", "GB-LND", "--phone", phone,
        "--description", "Hit a worker.", "--json",
    )  # fmt: skip
    return str(json.loads(out.stdout)["id"])


def test_a_match_is_a_warning_you_cannot_miss(node: dict[str, Any], browser: Any) -> None:
    url = node["url"]
    publish(node, 3, NUMBER)
    publish(node, 1, "+44 7700 900777")
    page = phone_page(browser)
    sign_up(page, url, invite(node, "member"), "alice")
    for number, level, words in (
        ("07700 900123", 3, "Warning: dangerous"),
        ("07700 900777", 1, "Warning: nuisance"),
    ):
        page.goto(url + "/check")
        page.select_option("#f-kind", "phone")
        page.fill("#f-value", number)
        page.locator("main").get_by_role("button", name="Check").click()
        block = page.locator(".match-warning")
        block.wait_for()
        assert block.get_attribute("class") == f"match-warning match-{level}"
        text = block.inner_text()
        assert words in text and "What was reported" in text and "What to do now" in text
        assert page.get_by_role("alert").count() >= 1
        box = block.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
        icon = block.locator(".match-icon").bounding_box()
        assert icon is not None and icon["width"] >= 40  # the shape is there to see
        assert no_sideways_scroll(page)
        shot(page, f"w1-match-{level}")
    page.context.close()


def test_retract_asks_first_without_javascript(node: dict[str, Any], browser: Any) -> None:
    url = node["url"]
    alert_id = publish(node, 2, "+44 7700 900555")
    with_js = phone_page(browser)
    sign_up(with_js, url, invite(node, "caseworker"), "carol")
    state = with_js.context.storage_state()
    with_js.context.close()
    page = phone_page(browser, java_script_enabled=False, storage_state=state)
    page.goto(url + "/published")
    form = page.locator(f"form[action='/published/{alert_id}/retract']")
    form.locator("select[name=reason]").select_option("mistaken")
    with page.expect_navigation():
        form.get_by_role("button", name="Retract").click()
    assert "Retract this alert?" in page.inner_text("h1")
    assert no_sideways_scroll(page)
    shot(page, "w1-confirm-retract")
    with page.expect_navigation():
        page.get_by_role("link", name="Cancel, go back").click()
    assert page.url == url + "/published"
    assert page.locator(f"form[action='/published/{alert_id}/retract']").count() == 1
    form = page.locator(f"form[action='/published/{alert_id}/retract']")
    form.locator("select[name=reason]").select_option("mistaken")
    with page.expect_navigation():
        form.get_by_role("button", name="Retract").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Retract the alert").click()
    assert page.url == url + "/published"
    assert "The alert is retracted." in page.inner_text("main")
    assert page.locator(f"form[action='/published/{alert_id}/retract']").count() == 0
    page.context.close()


def test_reloading_the_invite_page_makes_no_other_invite(
    node: dict[str, Any], browser: Any
) -> None:
    url = node["url"]
    page = phone_page(browser)
    sign_up(page, url, node["admin_invite"], "root")
    page.goto(url + "/admin/members")
    rows = page.locator("form[action='/admin/invites/revoke']").count()
    page.select_option("#f-role", "member")
    with page.expect_navigation():
        page.get_by_role("button", name="Create invite").click()
    assert page.url == url + "/admin/members"
    code = page.inner_text("#invite-code")
    assert code and page.locator("form[action='/admin/invites/revoke']").count() == rows + 1
    page.reload()
    assert page.locator("#invite-code").count() == 0 and code not in page.content()
    assert page.locator("form[action='/admin/invites/revoke']").count() == rows + 1
    assert no_sideways_scroll(page)
    shot(page, "w1-admin-members")
    page.context.close()


def test_quick_exit_without_javascript_then_back_shows_no_member_page(
    node: dict[str, Any], browser: Any
) -> None:
    url = node["url"]
    with_js = phone_page(browser)
    sign_up(with_js, url, invite(node, "member"), "dana")
    state = with_js.context.storage_state()
    with_js.context.close()
    page = phone_page(browser, java_script_enabled=False, storage_state=state)
    answers = route_quick_exit(page)
    page.goto(url + "/check")
    assert page.url == url + "/check" and "Check before a booking" in page.inner_text("h1")
    page.click("#quick-exit")
    page.wait_for_url(url + "/exit")
    assert "Sunny" in page.inner_text("body") and answers[0][0] == 303
    page.go_back()
    # Back: the member's page is asked for again (no-store) and the session is over.
    page.wait_for_load_state()
    assert "Check before a booking" not in page.content()
    assert not page.url.endswith("/check") or "/login" in page.url
    page.goto(url + "/check")
    assert page.url.endswith("/login")
    page.context.close()
