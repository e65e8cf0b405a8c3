"""Issue 13 (point 7, last sentence), in real Chromium at 360x740 without JavaScript,
against a node started with ``alertnode run``: a report sent after the session was
lost (its cookie deleted) leads to the log-in page, and after logging in the report
form shows what was typed, not sent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_browser import PASSPHRASE, invite, shot
from tests.e2e.test_phone_issue13_w1 import no_sideways_scroll, node, phone_page, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TYPED = "He took my phone at the door and would not give it back for an hour."
__all__ = ["node"]  # the module's node fixture, shared with w1's test


def test_report_sent_after_the_session_was_lost_keeps_its_text(
    node: dict[str, Any], browser: Any
) -> None:
    url = node["url"]
    with_js = phone_page(browser)
    sign_up(with_js, url, invite(node, "member"), "dana")
    state = with_js.context.storage_state()
    with_js.context.close()
    page = phone_page(browser, java_script_enabled=False, storage_state=state)
    page.goto(url + "/report")
    page.check("input[name=categories][value=violence]")
    page.fill("#f-text", TYPED)
    page.check("input[name=danger][value='2']")
    page.context.clear_cookies(name="an_session")  # the session is lost
    with page.expect_navigation():
        page.locator("main form[action='/report'] button[type=submit]").click()
    notice = page.locator("#kept-notice")
    assert "what you typed is kept" in notice.inner_text()
    assert TYPED not in page.content()
    assert no_sideways_scroll(page)
    shot(page, "w4-kept-login")
    page.fill("#f-nickname", "dana")
    page.fill("#f-passphrase", PASSPHRASE)
    with page.expect_navigation(timeout=30_000):  # the slow lane, without JavaScript
        page.locator("main form[action='/login'] button[type=submit]").click()
    assert page.url == url + "/report"
    assert page.input_value("#f-text") == TYPED
    assert page.is_checked("input[name=categories][value=violence]")
    assert page.is_checked("input[name=danger][value='2']")
    assert "It has not been sent" in page.inner_text("#kept-notice")
    assert no_sideways_scroll(page)
    shot(page, "w4-kept-form")
    page.goto(url + "/reports")
    assert TYPED not in page.content()
    page.goto(url + "/report")
    assert page.input_value("#f-text") == ""  # shown once
    page.context.close()
