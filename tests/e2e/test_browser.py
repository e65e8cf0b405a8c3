"""What a person sees: Debian's Chromium (through playwright) against a real node started
with ``alertnode run`` on loopback, on a phone-sized screen.

Skipped when /usr/bin/chromium is missing, except under CI=true, where that fails.
Screenshots of the main pages go to /tmp/shots/ for a person to look at.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.setting_kinds import QUICK_EXIT_DEFAULT
from tests.e2e.cli import RunningNode, alertnode
from tests.node.test_web_work import VECTOR, VECTOR_SOLUTION

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE_VIEWPORT = {"width": 390, "height": 844}
SHOTS = Path("/tmp/shots")
PASSPHRASE = "correct horse battery staple"
NUMBER = "+44 7700 900123"
NEUTRAL = QUICK_EXIT_DEFAULT


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing; CI must install Debian's chromium")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _require_chromium()
    data = tmp_path_factory.mktemp("browser") / "node"
    out = alertnode(
        "init",
        "--data",
        str(data),
        "--name",
        "Night Safety Project",
        "--no-passphrase",
        "--region",
        "GB-LND",
        "--web",
        "127.0.0.1:0",
        "--fed",
        "127.0.0.1:0",
        "--json",
    )
    info = json.loads(out.stdout)
    running = RunningNode(data)
    try:
        yield {
            "url": running.status["web"].rstrip("/"),
            "data": data,
            "admin_invite": info["invite"],
        }
    finally:
        running.stop()


def invite(node: dict[str, Any], role: str) -> str:
    out = alertnode("invite", "create", "--data", str(node["data"]), "--role", role, "--json")
    return str(json.loads(out.stdout)["code"])


NEUTRAL_PAGE = "<title>Weather</title><p>Sunny</p>"
CLEARED = '"cache", "cookies", "storage"'


def new_page(browser: Any, **kw: Any) -> Any:
    context = browser.new_context(viewport=PHONE_VIEWPORT, **kw)
    # The quick exit's neutral site is answered locally: tests never leave the machine.
    context.route(
        "https://www.google.com/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=NEUTRAL_PAGE),
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def route_quick_exit(page: Any) -> list[tuple[int, str, str]]:
    """Send the quick exit's ``/exit`` to the node for real, record its answer
    (status, Location, Clear-Site-Data), and show the neutral page in its place.
    Playwright does not route a request a redirect leads to, so the node's redirect to
    the neutral site would otherwise go out to the network."""
    answers: list[tuple[int, str, str]] = []

    def handle(route: Any) -> None:
        resp = route.fetch(max_redirects=0)
        headers = resp.headers
        answers.append(
            (resp.status, headers.get("location", ""), headers.get("clear-site-data", ""))
        )
        route.fulfill(status=200, content_type="text/html", body=NEUTRAL_PAGE)

    page.route("**/exit", handle)
    return answers


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_up(page: Any, url: str, code: str, nickname: str) -> None:
    page.goto(url + "/")
    page.get_by_role("link", name="I have an invite code").first.click()
    page.fill("#f-invite", code)
    page.fill("#f-nickname", nickname)
    page.fill("#f-passphrase", PASSPHRASE)
    page.fill("#f-passphrase2", PASSPHRASE)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(url + "/")
    assert f"Hello, {nickname}" in page.inner_text("h1")


def log_in(page: Any, url: str, nickname: str) -> None:
    page.goto(url + "/login")
    page.fill("#f-nickname", nickname)
    page.fill("#f-passphrase", PASSPHRASE)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url + "/")


def check(page: Any, url: str, value: str) -> str:
    page.goto(url + "/check")
    page.select_option("#f-kind", "phone")
    page.fill("#f-value", value)
    page.locator("main").get_by_role("button", name="Check").click()
    page.wait_for_selector("#result-title")
    return str(page.inner_text("main"))


def test_invite_check_report_publish_check_retract(node: dict[str, Any], browser: Any) -> None:
    url = node["url"]
    member = new_page(browser)
    member.goto(url + "/")
    shot(member, "00-start")
    sign_up(member, url, invite(node, "member"), "alice")
    shot(member, "01-home")
    text = check(member, url, NUMBER)
    assert "No alerts found" in text and "does not mean this person is safe" in text
    shot(member, "02-check-none")

    member.goto(url + "/report")
    member.check("input[name=categories][value=violence]")
    member.check("input[name=categories][value=robbery]")
    member.fill("#f-incident", datetime.date.today().isoformat())
    member.select_option("#f-region", "GB-LND")
    member.check("input[name=danger][value='3']")
    member.fill("#f-phone", "07700 900123")
    member.fill("#f-person", "Tall, grey estate car")
    member.fill("#f-text", "He hit me and took the money back. He also uses 07700 900456.")
    member.check("input[name=share][value=network]")
    shot(member, "03-report")
    member.get_by_role("button", name="Send report").click()
    member.wait_for_url(url + "/reports")
    assert "waiting for review" in member.inner_text("main")
    shot(member, "04-my-reports")

    worker = new_page(browser)
    sign_up(worker, url, invite(node, "caseworker"), "carol")
    worker.goto(url + "/review")
    shot(worker, "05-review-queue")
    worker.locator("main article a").first.click()
    assert "Identifiers found in the description" in worker.inner_text("main")
    worker.get_by_role("button", name="Apply these changes").click()
    assert "900456" not in worker.input_value("#f-description")
    assert "+447700900456" in worker.input_value("#f-phone")
    worker.get_by_role("button", name="Preview").click()
    assert "He hit me" in worker.inner_text("#preview article.alert")  # as members see it
    worker.locator("#preview summary").click()  # the wire form, behind a disclosure
    preview = worker.inner_text("#preview")
    assert "Exactly what other organisations will receive" in preview
    assert "7700900123" not in preview and '"danger": 3' in preview
    shot(worker, "06-editor-preview")
    worker.get_by_role("button", name="Publish", exact=True).click()
    worker.wait_for_url(url + "/published")
    assert "The alert is published." in worker.inner_text("main")
    shot(worker, "07-published")

    text = check(member, url, "07700900123")
    assert "1 alert matches" in text and "Dangerous" in text and "Robbery" in text
    assert "He hit me" in text  # the caseworker kept the account in the description
    shot(member, "08-check-match")
    member.goto(url + "/alerts")
    shot(member, "09-alerts")
    member.goto(url + "/bulletin")
    member.select_option("#f-region", "GB-LND")
    member.select_option("#f-lang", "fr")
    member.get_by_role("button", name="Show the bulletin").click()
    assert "Bulletin de sécurité" in member.inner_text("h1")
    member.emulate_media(media="print")
    shot(member, "10-bulletin-print-fr")
    member.emulate_media(media="screen")

    worker.goto(url + "/published")
    worker.select_option("main select[name=reason]", "mistaken")
    with worker.expect_navigation():
        worker.get_by_role("button", name="Retract").click()
    assert "Retract this alert?" in worker.inner_text("h1")  # it asks first
    with worker.expect_navigation():
        worker.get_by_role("button", name="Retract the alert").click()
    assert "The alert is retracted." in worker.inner_text("main")
    assert "No alerts found" in check(member, url, NUMBER)

    admin = new_page(browser)
    sign_up(admin, url, node["admin_invite"], "root")
    for path, name in (
        ("/admin/members", "11-admin-members"),
        ("/admin/audit", "12-audit"),
        ("/admin/settings", "13-settings"),
        ("/admin/trust", "14-trust"),
    ):
        admin.goto(url + path)
        shot(admin, name)
    admin.goto(url + "/admin/audit")
    audit = admin.inner_text("main")
    assert "publish" in audit and "retract" in audit and "carol" not in audit
    for page in (member, worker, admin):
        page.context.close()


def test_language_switch_and_accept_language(node: dict[str, Any], browser: Any) -> None:
    url = node["url"]
    page = new_page(browser, locale="ru-RU")
    page.goto(url + "/")
    assert page.get_attribute("html", "lang") == "ru"
    assert "Быстрый выход" in page.inner_text("#quick-exit")
    shot(page, "20-home-ru")
    page.get_by_role("button", name="Français").click()
    page.wait_for_url(url + "/")
    assert page.get_attribute("html", "lang") == "fr"
    assert "Sortie rapide" in page.inner_text("#quick-exit")
    sign_up_fr = invite(node, "member")
    page.goto(url + "/signup")
    page.fill("#f-invite", sign_up_fr)
    page.fill("#f-nickname", "amelie")
    page.fill("#f-passphrase", PASSPHRASE)
    page.fill("#f-passphrase2", PASSPHRASE)
    page.get_by_role("button", name="S'inscrire").click()
    page.wait_for_url(url + "/")
    page.goto(url + "/report")
    assert "Signaler un incident" in page.inner_text("h1")
    assert "Refus du préservatif" in page.inner_text("main")
    page.get_by_role("button", name="Envoyer le signalement").click()
    assert "Veuillez corriger les champs signalés." in page.inner_text("main")
    shot(page, "21-report-errors-fr")
    page.get_by_role("button", name="Español").click()
    assert "Informar de un incidente" in page.inner_text("h1")
    page.context.close()


def test_quick_exit(node: dict[str, Any], browser: Any) -> None:
    url = node["url"]
    page = new_page(browser)
    answers = route_quick_exit(page)
    sign_up(page, url, invite(node, "member"), "bella")
    page.goto(url + "/check")
    length = page.evaluate("history.length")
    page.click("#quick-exit")
    page.wait_for_url(url + "/exit")
    assert "Sunny" in page.inner_text("body")
    # Through the node: it ended the session, cleared the site and sent her on.
    assert answers == [(303, NEUTRAL, CLEARED)]
    assert page.evaluate("history.length") == length  # replaced, not added
    page.go_back()
    assert not page.url.endswith("/check")  # the page left is not in the history
    page.goto(url + "/check")
    assert page.url.endswith("/login")  # and the session ended on the way out

    log_in(page, url, "bella")
    page.goto(url + "/alerts")
    page.locator("main h1").click()  # focus the page, not a control
    for _ in range(3):
        page.keyboard.press("Escape")
    page.wait_for_url(url + "/exit")
    assert "Sunny" in page.inner_text("body") and answers[-1] == (303, NEUTRAL, CLEARED)
    page.context.close()

    no_js = new_page(browser, java_script_enabled=False)
    answers = route_quick_exit(no_js)
    no_js.goto(url + "/")
    no_js.click("#quick-exit")
    no_js.wait_for_url(url + "/exit")
    assert "Sunny" in no_js.inner_text("body") and answers == [(303, NEUTRAL, CLEARED)]
    no_js.context.close()


def _posted(request: Any) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(request.post_data or "", keep_blank_values=True)


def _is_post(path: str) -> Any:
    return lambda r: r.method == "POST" and urllib.parse.urlsplit(r.url).path == path


def test_login_and_signup_do_the_proof_of_work_in_the_page(
    node: dict[str, Any], browser: Any
) -> None:
    url = node["url"]
    page = new_page(browser)
    problems: list[str] = []  # script errors, CSP refusals
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    # The page's script finds exactly the counter the server's reference solver finds.
    page.goto(url + "/login")
    found = page.evaluate(
        "(c) => new Promise((done) => window.alertnodePow.solve(c, done))", VECTOR
    )
    assert found == VECTOR_SOLUTION
    with page.expect_request(_is_post("/signup")) as sent:
        sign_up(page, url, invite(node, "member"), "erin")
    assert re.fullmatch(r"\d+", _posted(sent.value)["pow"][0])
    with page.expect_navigation(url=url + "/"):
        page.locator("footer").get_by_role("button", name="Log out").click()
    with page.expect_request(_is_post("/login")) as sent:
        log_in(page, url, "erin")
    assert re.fullmatch(r"\d+", _posted(sent.value)["pow"][0])
    assert "Hello, erin" in page.inner_text("h1")
    assert not problems, problems
    page.context.close()


def test_login_without_javascript_takes_the_slow_lane(node: dict[str, Any], browser: Any) -> None:
    url = node["url"]
    page = new_page(browser)
    sign_up(page, url, invite(node, "member"), "fern")
    page.context.close()
    no_js = new_page(browser, java_script_enabled=False)
    no_js.goto(url + "/login")
    assert "Without JavaScript this form waits a few seconds" in no_js.inner_text("main")
    no_js.fill("#f-nickname", "fern")
    no_js.fill("#f-passphrase", PASSPHRASE)
    with no_js.expect_request(_is_post("/login")) as sent:
        no_js.get_by_role("button", name="Log in").click()
    assert _posted(sent.value)["pow"] == [""]  # nothing solved: the server waited instead
    no_js.wait_for_url(url + "/")
    assert "Hello, fern" in no_js.inner_text("h1")
    no_js.context.close()


def tab_to(page: Any, selector: str, limit: int = 60) -> None:
    """Press Tab until the element matching ``selector`` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_only(node: dict[str, Any], browser: Any) -> None:
    url = node["url"]
    page = new_page(browser)
    code = invite(node, "member")
    page.goto(url + "/signup")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "quick-exit"  # the way out comes first
    tab_to(page, "#f-invite")
    page.keyboard.type(code)
    tab_to(page, "#f-nickname")
    page.keyboard.type("dana")
    tab_to(page, "#f-passphrase")
    page.keyboard.type(PASSPHRASE)
    tab_to(page, "#f-passphrase2")
    page.keyboard.type(PASSPHRASE)
    page.keyboard.press("Enter")
    page.wait_for_url(url + "/")

    page.goto(url + "/check")
    tab_to(page, "#f-kind")
    tab_to(page, "#f-value")
    page.keyboard.type(NUMBER)
    page.keyboard.press("Enter")
    page.wait_for_selector("#result-title")

    page.goto(url + "/report")
    tab_to(page, "input[name=categories][value=stalking]")
    page.keyboard.press("Space")
    tab_to(page, "#f-incident")
    today = datetime.date.today()
    page.keyboard.type(today.strftime("%m%d%Y"))
    tab_to(page, "#f-region")
    page.keyboard.press("ArrowDown")
    tab_to(page, "input[name=danger]")
    page.keyboard.press("Space")
    tab_to(page, "#f-text")
    page.keyboard.type("Kept following me after the booking.")
    tab_to(page, "input[name=share]")
    page.keyboard.press("Space")
    tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(url + "/reports")

    page.goto(url + "/logout-form-check")  # an unknown page is a page too
    assert "There is no such page." in page.inner_text("main")
    page.goto(url + "/check")
    tab_to(page, "footer form[action='/logout'] button")  # log out by keyboard
    page.keyboard.press("Enter")
    page.wait_for_url(url + "/")
    page.context.close()
