"""Issue 14, items 7 and 8, as the issue checks them: in Debian's Chromium at phone
size, against two real nodes (``alertnode run``) peered through the CLI on loopback.

- A member's withdrawal request, confirmed by a caseworker, carried through to a
  retraction at the peer.
- A member of one node browsing a region only the peer publishes for, and finding
  its alert.

Skipped when /usr/bin/chromium is missing, except under CI=true, where that fails.
Screenshots go to /tmp/shots/ for a person to look at.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli import alertnode, alertnode_json, start_all
from tests.e2e.test_browser import (
    _require_chromium,
    sign_up,
)
from tests.e2e.test_federation_cli import peer_both_ways, wait_for
from tests.ports import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE_VIEWPORT = {"width": 360, "height": 740}
SHOTS = Path("/tmp/shots")
REPORTED = "07700 900123"
REPORTED_E164 = "+447700900123"  # node b's own country is France
PEER_PHONE = "+33 6 12 34 56 78"
PEER_TEXT = "Paris: took the money back by force near the station."


def init(tmp: Path, name: str, region: str) -> Path:
    data = tmp / name
    alertnode(
        "init", "--data", str(data), "--name", f"Org {name}", "--no-passphrase",
        "--region", region, "--web", f"127.0.0.1:{free_port()}",
        "--fed", f"127.0.0.1:{free_port()}",
    )  # fmt: skip
    return data


def invite(data: Path, role: str) -> str:
    out = alertnode("invite", "create", "--data", str(data), "--role", role, "--json")
    return str(json.loads(out.stdout)["code"])


def matches(data: Path, phone: str) -> int:
    return int(alertnode_json("check", "--data", str(data), "--phone", phone)["matches"])


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _require_chromium()
    tmp = tmp_path_factory.mktemp("control")
    a, b = init(tmp, "a", "GB-LND"), init(tmp, "b", "FR-75")
    running = start_all(a, b)
    try:
        peer_both_ways(a, b)
        yield {"a": a, "b": b, "url": running[0].status["web"].rstrip("/")}
    finally:
        for node in running:
            node.stop()


def new_page(browser: Any) -> Any:
    context = browser.new_context(viewport=PHONE_VIEWPORT)
    # Nothing leaves the machine: any address but loopback is refused.
    context.route(
        re.compile(r"^https?://(?!127\.0\.0\.1[:/]).*"),
        lambda route: route.abort("blockedbyclient"),
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"control-{name}.png"), full_page=True)


def test_withdrawal_reaches_the_peer_and_a_member_browses_the_peers_region(
    nodes: dict[str, Any], browser: Any
) -> None:
    a, b, url = nodes["a"], nodes["b"], nodes["url"]
    alertnode_json(
        "alert", "publish", "--data", str(b), "--category", "robbery", "--danger", "3",
        "--region", "FR-75", "--phone", PEER_PHONE, "--description", PEER_TEXT,
    )  # fmt: skip

    member = new_page(browser)
    sign_up(member, url, invite(a, "member"), "alice")
    member.goto(url + "/report")
    member.check("input[name=categories][value=violence]")
    member.fill("#f-incident", datetime.date.today().isoformat())
    member.select_option("#f-region", "GB-LND")
    member.check("input[name=danger][value='3']")
    member.fill("#f-phone", REPORTED)
    member.fill("#f-text", "He refused to pay and pushed me down the stairs.")
    member.check("input[name=share][value=network]")
    with member.expect_navigation():
        member.get_by_role("button", name="Send report").click()

    worker = new_page(browser)
    sign_up(worker, url, invite(a, "caseworker"), "carol")
    worker.goto(url + "/review")
    worker.locator("main article h2 a").first.click()
    with worker.expect_navigation():
        worker.get_by_role("button", name="Publish", exact=True).click()
    wait_for(lambda: matches(b, REPORTED_E164) == 1)

    # She asks for the alert to be withdrawn; the tick box is required.
    member.goto(url + "/reports")
    shot(member, "01-my-reports")
    member.check("input[name=sure]")
    with member.expect_navigation():
        member.get_by_role("button", name="Withdraw the alert made from this report").click()
    assert "A caseworker will confirm it." in member.inner_text("main")
    assert matches(b, REPORTED_E164) == 1, "nothing is retracted before a caseworker confirms"

    worker.goto(url + "/review")
    assert "asks for the alert made from this report to be withdrawn" in worker.inner_text("main")
    shot(worker, "02-review-withdrawal")
    with worker.expect_navigation():
        worker.get_by_role("button", name="Confirm: retract the alert").click()
    wait_for(lambda: matches(b, REPORTED_E164) == 0)
    assert matches(a, REPORTED_E164) == 0
    member.goto(url + "/reports")
    assert "Status: withdrawn" in member.inner_text("main")

    # She asks for help on the same report; a caseworker answers on her page.
    member.get_by_text("I want help").click()
    member.fill("textarea[name=note]", "Please write back here.")
    with member.expect_navigation():
        member.get_by_role("button", name="Ask a caseworker for help").click()
    worker.goto(url + "/review")
    assert "Please write back here." in worker.inner_text("main")
    worker.fill("textarea[name=text]", "We can meet at the drop-in on Tuesday.")
    with worker.expect_navigation():
        worker.get_by_role("button", name="Send").click()
    member.goto(url + "/reports")
    assert "We can meet at the drop-in on Tuesday." in member.inner_text("main")
    shot(member, "03-help-answered")

    # Travelling: the peer's region is offered, and its alert found.
    wait_for(lambda: matches(a, PEER_PHONE) == 1)
    member.goto(url + "/alerts")
    assert "Regions in alerts from other organisations" in member.inner_text("main")
    member.check("input[name=region][value=FR-75]")
    with member.expect_navigation():
        member.locator("main").get_by_role("button", name="Show").click()
    shot(member, "04-alerts-peer-region")
    assert PEER_TEXT in member.inner_text("main")
