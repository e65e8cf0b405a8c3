"""Issue 14, items 4 and 5, as someone holding the member's phone would find them:
real Chromium at phone size against a node started with ``alertnode run``.

A report reaches the phone's downloads only when she asks twice, under a neutral
name; the old one-tap URL gives nothing; her receipt code checks on the public page
(as a lawyer with no account would) and with ``alertnode receipt verify``, from the
code and from the saved file.

Skipped when /usr/bin/chromium is missing, except under CI=true, where that fails.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli import RunningNode, alertnode
from tests.e2e.test_browser import (
    _require_chromium,
    sign_up,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
PHONE_VIEWPORT = {"width": 360, "height": 740}
WORDS = "He hit me and took the money back."
NOTE_NAME = re.compile(r"^note-[0-9a-f]{6}\.txt$")
RECEIPT_NAME = re.compile(r"^receipt-[0-9a-f]{6}\.txt$")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _require_chromium()
    data = tmp_path_factory.mktemp("receipts") / "node"
    alertnode(
        "init",
        "--data",
        str(data),
        "--name",
        "Test organisation",
        "--no-passphrase",
        "--region",
        "GB-LND",
        "--web",
        "127.0.0.1:0",
        "--fed",
        "127.0.0.1:0",
        "--json",
    )
    running = RunningNode(data)
    try:
        yield {"url": running.status["web"].rstrip("/"), "data": data}
    finally:
        running.stop()


def test_files_only_when_asked_and_a_receipt_that_checks(
    node: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    url, data = node["url"], node["data"]
    context = browser.new_context(viewport=PHONE_VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    downloads: list[Any] = []
    page.on("download", lambda d: downloads.append(d))
    code_out = alertnode("invite", "create", "--data", str(data), "--json")
    sign_up(page, url, json.loads(code_out.stdout)["code"], "alice")

    page.goto(url + "/report")
    page.check("input[name=categories][value=violence]")
    page.fill("#f-incident", datetime.date.today().isoformat())
    page.select_option("#f-region", "GB-LND")
    page.check("input[name=danger][value='3']")
    page.fill("#f-phone", "07700 900123")
    page.fill("#f-text", WORDS)
    page.check("input[name=share][value=node]")
    with page.expect_navigation():
        page.get_by_role("button", name="Send report").click()

    # The receipt: a code she can write down, shown this once.
    code = page.inner_text(".receipt-code code").strip()
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){5}", code), code
    assert "shown only this once" in page.inner_text("main")
    with page.expect_download() as receipt_info:
        page.get_by_role("button", name="Save the receipt as a file").click()
    receipt_file = receipt_info.value
    assert RECEIPT_NAME.match(receipt_file.suggested_filename), receipt_file.suggested_filename
    receipt_path = tmp_path / receipt_file.suggested_filename
    receipt_file.save_as(receipt_path)
    assert code in receipt_path.read_text() and WORDS not in receipt_path.read_text()
    page.reload()
    assert code not in page.inner_text("main")

    # Her report is on screen; the list downloads nothing.
    page.goto(url + "/reports")
    page.get_by_text("Show the report").first.click()
    assert WORDS in page.inner_text("main")
    # The old one-tap URL is no page and no file.
    response = page.goto(url + "/reports/1.json")
    assert response is not None and response.status == 404
    assert len(downloads) == 1

    # Saving a copy: a warning page, then a confirm.
    page.goto(url + "/reports")
    page.get_by_role("link", name="Save a copy as a file…").click()
    warning = page.inner_text("main")
    assert "cloud backup" in warning and "Anyone who holds your phone" in warning
    page.get_by_role("button", name="Save the file").click()  # not ticked: no file
    page.wait_for_selector("#e-confirm")
    assert len(downloads) == 1
    page.check("input[name=confirm]")
    with page.expect_download() as note_info:
        page.get_by_role("button", name="Save the file").click()
    note = note_info.value
    assert NOTE_NAME.match(note.suggested_filename), note.suggested_filename
    note_path = tmp_path / note.suggested_filename
    note.save_as(note_path)
    assert WORDS in note_path.read_text() and "+447700900123" in note_path.read_text()
    assert len(downloads) == 2
    context.close()

    # A lawyer, with no account, checks the code she wrote down (in lower case).
    lawyer = browser.new_context(viewport=PHONE_VIEWPORT).new_page()
    lawyer.goto(url + "/receipt")
    lawyer.fill("#f-receipt", code.lower())
    lawyer.locator("main").get_by_role("button", name="Check").click()
    lawyer.wait_for_selector("#result-title")
    assert "This receipt is real." in lawyer.inner_text("main")
    lawyer.fill("#f-receipt", code[:-1] + ("A" if code[-1] != "A" else "B"))
    lawyer.locator("main").get_by_role("button", name="Check").click()
    lawyer.wait_for_selector("#result-title")
    assert "not one this service made" in lawyer.inner_text("main")
    lawyer.context.close()

    # And the admin, from the code and from the file.
    for given, form in ((code, "code"), (str(receipt_path), "file")):
        out = alertnode("receipt", "verify", "--data", str(data), given, "--json")
        answer = json.loads(out.stdout)
        assert answer["valid"] is True and answer["form"] == form, answer
    # The receipt file names the fingerprint her saved copy ends with.
    assert answer["report_sha256"] and answer["report_sha256"] in note_path.read_text()
