"""Issue 14, items 4 and 5, in process: a member's report becomes a file only in two
deliberate steps under a neutral name; a receipt is given once after sending, checks
from its code and from its file, fails when changed, and leaves nothing in the store."""

from __future__ import annotations

import argparse
import base64
import json
import re
from pathlib import Path

import aiohttp
import nacl.signing
import pytest

from node import receipts
from node.commands.receipts import CodeOrFile
from node.commands.table import Arg
from protocol import receipt as wire
from tests.node.test_web_flow import REPORT, send_report
from tests.node.test_web_support import Site, site_fixture  # noqa: F401

CODE_RE = re.compile(r"<code>([A-Z2-7]{4}(?:-[A-Z2-7]{4}){5})</code>")
SIGNED_RE = re.compile(r'name="receipt" value="([A-Za-z0-9+/=]+)"')
NOTE_NAME = re.compile(r'^attachment; filename="note-[0-9a-f]{6}\.txt"$')
RECEIPT_NAME = re.compile(r'^attachment; filename="receipt-[0-9a-f]{6}\.txt"$')


# --- item 4: no files unless she asks, and then harmless ones ---------------------------


async def test_the_old_download_url_gives_no_file_and_the_report_shows_on_screen(
    site: Site,
) -> None:
    alice = await site.member("alice")
    await send_report(alice)
    status, body, resp = await alice.get("/reports/1.json")
    assert status == 404
    assert "Content-Disposition" not in resp.headers
    assert REPORT["text"] not in body
    status, html, _ = await alice.get("/reports")
    assert status == 200
    # Her words and identifiers are on the page, and nothing on it downloads at once.
    assert "He hit me and took the money." in html and "+447700900123" in html
    assert ".json" not in html and " download" not in html
    assert 'href="/reports/1/save"' in html


async def test_saving_a_report_takes_a_warning_and_a_confirm_and_gives_a_neutral_name(
    site: Site,
) -> None:
    alice = await site.member("alice")
    bobby = await site.member("bobby")
    await send_report(alice)
    status, html, resp = await alice.get("/reports/1/save")
    assert status == 200 and "Content-Disposition" not in resp.headers
    assert "cloud backup" in html and "Anyone who holds your phone" in html
    # The confirm POST without the box ticked gives the page again, not a file.
    status, html, resp = await alice.post("/reports/1/save", {}, page="/reports/1/save")
    assert status == 400 and "Content-Disposition" not in resp.headers
    assert REPORT["text"] not in html
    status, body, resp = await alice.post(
        "/reports/1/save", {"confirm": "yes"}, page="/reports/1/save"
    )
    assert status == 200
    disposition = resp.headers["Content-Disposition"]
    assert NOTE_NAME.match(disposition), disposition
    assert resp.content_type == "text/plain"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert REPORT["text"] in body and "+447700900123" in body
    stored = (await site.store.reports.list())[0].content
    assert wire.report_digest(stored).hex() in body  # the fingerprint a receipt names
    # Two saves get two unrelated names: the name says nothing, not even the number.
    _, _, again = await alice.post("/reports/1/save", {"confirm": "yes"}, page="/reports/1/save")
    assert again.headers["Content-Disposition"] != disposition
    # Only her own: another member gets no page and no file.
    status, body, _ = await bobby.get("/reports/1/save")
    assert status == 404
    status, body, resp = await bobby.post("/reports/1/save", {"confirm": "yes"}, page="/reports")
    assert status == 404 and REPORT["text"] not in body
    assert "Content-Disposition" not in resp.headers


# --- item 5: a receipt she can keep anywhere --------------------------------------------


async def _sent_with_receipt(site: Site) -> tuple[str, str, str]:
    """Send a report as a new member; her receipt's code, signed receipt (base64) and
    file text, as the pages give them."""
    alice = await site.member("alice")
    await send_report(alice)
    status, html, _ = await alice.get("/reports?done=sent")
    assert status == 200
    code = CODE_RE.search(html)
    signed = SIGNED_RE.search(html)
    assert code and signed, html
    # Shown once: the next look at the page has no receipt.
    _, again, _ = await alice.get("/reports?done=sent")
    assert code.group(1) not in again and not SIGNED_RE.search(again)
    status, text, resp = await alice.post("/receipt/save", {"receipt": signed.group(1)}, page="/")
    assert status == 200 and RECEIPT_NAME.match(resp.headers["Content-Disposition"])
    assert code.group(1) in text
    return code.group(1), signed.group(1), text


async def check(site: Site, text: str) -> tuple[int, str]:
    """A visitor with no account checks a receipt on the public page."""
    lawyer = await site.visitor()
    status, html, _ = await lawyer.post("/receipt", {"receipt": text}, page="/receipt")
    return status, html


async def test_a_receipt_checks_from_its_code_and_its_file_and_fails_when_changed(
    site: Site,
) -> None:
    code, signed_b64, file_text = await _sent_with_receipt(site)
    minute = site.node.clock.now() // 60 * 60
    when = receipts.minute_text(minute)
    for good in (code, code.lower().replace("-", " "), file_text):
        status, html = await check(site, good)
        assert status == 200 and "This receipt is real." in html and when in html, good
    # The file names the report's digest: SHA-256 of its canonical bytes.
    stored = (await site.store.reports.list())[0].content
    digest = wire.report_digest(stored)
    assert digest.hex() in (await check(site, file_text))[1]
    # One changed letter of the code, one changed byte of the file: neither checks.
    changed = ("B" if code[0] != "B" else "C") + code[1:]
    signed = bytearray(base64.b64decode(signed_b64))
    for i in (len(signed) - 1, len(signed) - 40, 60):
        flipped = bytearray(signed)
        flipped[i] ^= 1
        bad_file = file_text.replace(signed_b64, base64.b64encode(bytes(flipped)).decode())
        status, html = await check(site, bad_file)
        assert status == 200 and "not one this service made" in html, i
    status, html = await check(site, changed)
    assert status == 200 and "not one this service made" in html
    # A receipt signed by another key (a forger's) is refused, and so is its download.
    forged = wire.make_receipt(nacl.signing.SigningKey.generate(), digest, minute)
    keys = site.node.unlocked().keys
    ours = (bytes(keys.signing.verify_key),)
    assert not receipts.verify(receipts.file_text(minute, code, forged), keys.data_key, ours).valid
    alice = await site.visitor()
    await alice.signup("mallory")
    status, _, resp = await alice.post(
        "/receipt/save", {"receipt": base64.b64encode(forged).decode()}, page="/"
    )
    assert status == 400 and "Content-Disposition" not in resp.headers


async def row_counts(site: Site) -> dict[str, int]:
    db = site.store.reports._db
    tables = await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'", ())
    # Table names come from sqlite_master, not from anyone's input.
    count = 'SELECT count(*) FROM "{}"'
    return {t[0]: (await db.fetchall(count.format(t[0]), ()))[0][0] for t in tables}


async def test_the_node_stores_nothing_about_a_receipt(site: Site) -> None:
    alice = await site.member("alice")
    before = await row_counts(site)
    await send_report(alice)
    # The report is the only row the sending adds: no table holds a receipt. (The
    # month's report counter for funders, node/store/totals.py, may start: a month and
    # a number.)
    after = await row_counts(site)
    added = {t: n - before[t] for t, n in after.items() if n != before[t]}
    assert added.pop("monthly_counts", 1) == 1
    assert added == {"reports": 1}
    status, html, _ = await alice.get("/reports?done=sent")
    code_match, signed_match = CODE_RE.search(html), SIGNED_RE.search(html)
    assert status == 200 and code_match and signed_match
    code, signed_b64 = code_match.group(1), signed_match.group(1)
    _, _, _ = await alice.post("/receipt/save", {"receipt": signed_b64}, page="/")
    assert (await check(site, code))[1].count("This receipt is real.") == 1
    assert await row_counts(site) == after  # giving, saving and checking add nothing
    signed = base64.b64decode(signed_b64)
    opened = wire.open_receipt(signed)
    needles = {
        "code": code.encode(),
        "code letters": code.replace("-", "").encode(),
        "code bytes": base64.b32decode(code.replace("-", "")),
        "digest": opened.report,
        "digest hex": opened.report.hex().encode(),
        "signature": signed[-64:],
        "signed receipt": signed_b64.encode(),
    }
    # Everything the node wrote (the database, its WAL, keys, settings), byte for byte...
    files = sorted(p for p in Path(site.node.data_dir).rglob("*") if p.is_file())
    assert any(p.name.startswith("store.db") for p in files)
    raw = b"".join(p.read_bytes() for p in files)
    # ...and what its sealed rows hold, opened.
    opened_rows = json.dumps(
        [r.content for r in await site.store.reports.list()] + await site.store.audit.list()
    ).encode()
    for where, data in (("files", raw), ("sealed rows", opened_rows)):
        assert [name for name, needle in needles.items() if needle in data] == [], where
    # The scans can find what is there (their controls): the receipt's signer key in
    # the node's files, her words in the opened rows.
    assert opened.node in raw or opened.node.hex().encode() in raw
    assert b"He hit me" in opened_rows


async def test_receipt_checks_are_limited_per_client(site: Site) -> None:
    site.state.receipts.checks.limit = 2
    lawyer = await site.visitor()
    statuses = []
    for _ in range(3):
        status, html, _ = await lawyer.post("/receipt", {"receipt": "A" * 24}, page="/receipt")
        statuses.append(status)
    assert statuses == [200, 200, 429]
    assert "Too many attempts" in html


# --- the command --------------------------------------------------------------------------


async def test_receipt_verify_command_checks_a_code_and_a_file(site: Site, tmp_path: Path) -> None:
    code, _, file_text = await _sent_with_receipt(site)
    path = tmp_path / "anything.txt"
    path.write_text(file_text)
    arg = Arg("receipt", CodeOrFile(), positional=True)

    # The command line sends the file's text, not its path, and a code as it is.
    assert CodeOrFile().read(argparse.Namespace(receipt=str(path)), arg) == file_text
    assert CodeOrFile().read(argparse.Namespace(receipt=code), arg) == code
    connector = aiohttp.UnixConnector(path=str(site.node.data_dir / "control.sock"))
    async with aiohttp.ClientSession(connector=connector) as http:
        changed = code[:-1] + ("Q" if code[-1] != "Q" else "R")
        for text, form, valid in (
            (code, "code", True),
            (file_text, "file", True),
            (changed, "code", False),
        ):
            async with http.post("http://alertnode/v1/receipt.verify", json={"receipt": text}) as r:
                assert r.status == 200
                answer = await r.json()
            assert set(answer) == {"valid", "form", "received", "report_sha256"}
            assert (answer["form"], answer["valid"]) == (form, valid)
            assert (answer["received"] is not None) is valid


@pytest.mark.parametrize("text", ["", "x" * 3000])
async def test_receipt_check_page_refuses_empty_or_huge(site: Site, text: str) -> None:
    status, _ = await check(site, text)
    assert status == 400
