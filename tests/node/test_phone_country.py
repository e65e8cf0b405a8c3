"""Issue 13.1: phone numbers written without a country code.

A node is made with a country (``init`` requires ``--region`` or asks for it), a
refusal says what to add with an example of the node's or the report's country, and
the region of a report gives the redaction helper its country.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from node.commands.cli import main
from node.web.forms import phone_country, phone_example
from tests.node.test_web_flow import editor_fields, send_report
from tests.node.test_web_support import Site, site_fixture  # noqa: F401


def test_init_without_region_refuses_and_says_what_to_give(
    short_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = short_tmp / "n"
    assert main(["init", "--data", str(data), "--name", "x", "--no-passphrase"]) != 0
    err = capsys.readouterr().err
    assert "--region" in err and "country code" in err and err[-1] == "\n"
    assert err.count("\n") == 1
    assert not data.exists()  # nothing made


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_init_at_a_terminal_asks_for_the_region(
    short_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _Terminal("fr-75\n"))
    data = short_tmp / "n"
    args = ["init", "--data", str(data), "--name", "x", "--no-passphrase", "--web"]
    assert main([*args, "127.0.0.1:0", "--fed", "127.0.0.1:0"]) == 0
    captured = capsys.readouterr()
    assert "read as FR numbers" in captured.out and "phone_region" in captured.out
    assert "Country or region the node serves" in captured.err  # the question, not on stdout


def test_init_json_answer_keeps_its_keys(
    short_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = short_tmp / "n"
    args = ["init", "--data", str(data), "--name", "x", "--no-passphrase", "--region", "GB"]
    assert main([*args, "--web", "127.0.0.1:0", "--fed", "127.0.0.1:0", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {
        "data", "key", "card", "invite", "web", "fed"
    }  # fmt: skip


def test_phone_country_and_example() -> None:
    assert phone_country("GB-LND", "FR") == "GB"
    assert phone_country("", "fr") == "FR"
    assert phone_country("", "") == ""
    assert phone_example("FR")[0] == "+33" and phone_example("FR")[1].startswith("+33 ")
    assert phone_example("") == ("+44", "+44 7700 900123")


async def test_check_without_a_node_country_says_add_the_country_code(site: Site) -> None:
    site.node.unlocked().settings.set("phone_region", "")
    member = await site.member("alice")
    status, html, _ = await member.post("/check", {"kind": "phone", "value": "07700 900123"})
    assert status == 400
    assert "Add the country code at the start of the number, like +44" in html
    assert "does not look like a phone number" not in html


async def test_check_with_a_node_country_gives_its_example(site: Site) -> None:
    site.node.unlocked().settings.set("phone_region", "FR")
    member = await site.member("alice")
    status, html, _ = await member.post("/check", {"kind": "phone", "value": "06 12 34"})
    assert status == 400
    assert "add its country code at the start, like +33" in html


async def test_report_reads_national_numbers_in_the_reports_country(site: Site) -> None:
    """A node with no country: a report from GB-LND reads 07700 900123 as British."""
    site.node.unlocked().settings.set("phone_region", "")
    member = await site.member("alice")
    await send_report(member)  # REPORT: region GB-LND, phone 07700 900123
    (report,) = await site.store.reports.list()
    assert report.content["indicators"]["phone"] == "+447700900123"


async def test_redaction_helper_reads_numbers_in_the_reports_country(site: Site) -> None:
    """The helper's suggestion is an international number, which the phone field of a
    node with no country accepts (it refused the national one before)."""
    site.node.unlocked().settings.set("phone_region", "")
    member = await site.member("alice")
    text = "He called from 07700 900456 twice."
    await send_report(member, text=text, phone="+44 7700 900123")
    worker = await site.member("carol", "caseworker")
    (report,) = await site.store.reports.list()
    status, html, _ = await worker.get(f"/review/{report.id}")
    assert status == 200, html
    assert "+447700900456" in html  # the suggestion, in E.164
    fields = editor_fields(html)
    fields["action"] = "apply"  # move the found number into the phone field
    status, html, _ = await worker.post(f"/review/{report.id}", fields)
    assert status == 200, html
    fields = editor_fields(html)
    assert "+447700900456" in str(fields["phone"])
    fields["action"] = "preview"
    status, html, _ = await worker.post(f"/review/{report.id}", fields)
    assert status == 200, html
    assert "Add the country code" not in html
