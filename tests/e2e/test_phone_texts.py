"""Issue 14 items 1 and 6 in real Chromium at phone size: what a tab, a title and a
printed handout show, and where the quick exit goes once an admin has chosen.

Skipped when /usr/bin/chromium is missing, except under CI=true, where that fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from node.languages import direction, html_lang
from node.web.i18n import LANGUAGES
from tests.e2e.cli import RunningNode, alertnode
from tests.e2e.test_browser import (
    PASSPHRASE,
    _require_chromium,
    route_quick_exit,
)
from tests.node.test_web_texts import telling

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 360, "height": 740}
ORGANISATION = "Rosa Lindqvist Collective"
CHOSEN_EXIT = "https://weather.example.org/today"
NEUTRAL_PAGE = "<title>Weather</title><p>Sunny</p>"


@pytest.fixture(scope="module")
def texts_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _require_chromium()
    data = tmp_path_factory.mktemp("phone-texts") / "node"
    out = alertnode(
        "init", "--data", str(data), "--name", ORGANISATION, "--no-passphrase",
        "--region", "GB-LND", "--web", "127.0.0.1:0", "--fed", "127.0.0.1:0", "--json",
    )  # fmt: skip
    running = RunningNode(data)
    try:
        yield {
            "url": running.status["web"].rstrip("/"),
            "admin_invite": json.loads(out.stdout)["invite"],
        }
    finally:
        running.stop()


def phone(browser: Any, lang: str = "en") -> Any:
    context = browser.new_context(viewport=PHONE, locale=html_lang(lang))
    # Neutral sites are answered locally: tests never leave the machine.
    for pattern in ("https://www.google.com/**", "https://weather.example.org/**"):
        context.route(
            pattern,
            lambda route: route.fulfill(status=200, content_type="text/html", body=NEUTRAL_PAGE),
        )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def test_titles_tabs_and_the_printed_handout(texts_node: dict[str, Any], browser: Any) -> None:
    url = texts_node["url"]
    for lang in LANGUAGES:
        page = phone(browser, lang)
        for path in ("/", "/login", "/signup", "/safety", "/no-such-page"):
            page.goto(url + path)
            assert page.evaluate("document.documentElement.lang") == html_lang(lang)
            assert page.evaluate("document.documentElement.dir") == direction(lang)
            title = page.title()
            assert title and telling(title, ORGANISATION) == [], (lang, path, title)
            body = page.inner_text("body")
            assert telling(body, ORGANISATION) == [], (lang, path)
            # Nothing scrolls sideways at 360 px.
            assert page.evaluate("document.documentElement.scrollWidth <= 360"), (lang, path)
        # The footer leads to the page, and the page to its handout.
        page.goto(url + "/login")
        page.locator("footer a[href='/safety']").click()
        page.wait_for_url(url + "/safety")
        page.locator("a[href='/safety/print']").click()
        page.wait_for_url(url + "/safety/print")
        # Printed: the bulletin's print rules hide the quick exit, header and footer,
        # and the handout is one sheet of A4.
        page.emulate_media(media="print")
        for selector in (".exitbar", "header.top", "footer.foot"):
            shown = page.eval_on_selector(selector, "e => getComputedStyle(e).display")
            assert shown == "none", (lang, selector)
        assert pdf_pages(page.pdf(format="A4")) == 1, lang
        page.context.close()


def test_the_quick_exit_follows_the_admins_choice(texts_node: dict[str, Any], browser: Any) -> None:
    url = texts_node["url"]
    page = phone(browser)
    page.goto(url + "/login")
    # The quick exit goes through the node (/exit ends the session), then on.
    assert page.get_attribute("#quick-exit", "href") == "/exit"
    page.goto(url + "/signup")
    page.fill("#f-invite", texts_node["admin_invite"])
    page.fill("#f-nickname", "boss")
    page.fill("#f-passphrase", PASSPHRASE)
    page.fill("#f-passphrase2", PASSPHRASE)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(url + "/")
    # The main menu, one link longer, still fits a 360 px screen.
    assert page.evaluate("document.documentElement.scrollWidth <= 360")
    page.goto(url + "/admin/settings")
    page.fill("#f-quick_exit_url", CHOSEN_EXIT)
    with page.expect_navigation():
        page.get_by_role("button", name="Save settings").click()
    page.goto(url + "/admin/texts/en")
    page.fill("#f-public_name", "Garden club")
    with page.expect_navigation():
        page.locator("#t-public_name button").click()
    assert page.title() == "Texts · Garden club"
    # The page counter can fail: a handout of 300 list items takes many sheets.
    page.fill("#f-handout", "- item\n" * 300)
    with page.expect_navigation():
        page.locator("#t-handout button").click()
    page.goto(url + "/safety/print")
    page.emulate_media(media="print")
    assert pdf_pages(page.pdf(format="A4")) > 1
    page.emulate_media(media="screen")
    answers = route_quick_exit(page)
    page.locator("#quick-exit").click()
    page.wait_for_function("document.title === 'Weather'")
    assert answers and answers[0][:2] == (303, CHOSEN_EXIT)
    # The session ended on the way out: the site asks to log in again.
    page.goto(url + "/account")
    assert page.url.endswith("/login")
    assert page.title().endswith("· Garden club")
    page.context.close()
