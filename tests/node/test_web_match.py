"""Issue 13.2: a match you cannot miss. The warning says the danger in words and
differs between nuisance, risky and dangerous in colour (class), border and shape
(circle, triangle, octagon), says what was reported and when, and what to do next
(the organisation's own advice). "No alerts found" keeps its caution."""

from __future__ import annotations

import re

import pytest

from node.web.i18n import Translator
from tests.node.test_web_flow import INCIDENT, PHONE, editor_fields, send_report
from tests.node.test_web_support import Site, site_fixture  # noqa: F401

SHAPES = {"1": "<circle", "2": '<polygon points="20,2 39,37 1,37"', "3": '<polygon points="12,2'}
WORDS = {"1": "Warning: nuisance", "2": "Warning: risky", "3": "Warning: dangerous"}


async def publish_with_danger(site: Site, danger: str) -> None:
    member = await site.member("alice")
    await send_report(member, text="Refused to pay.", danger=danger)
    worker = await site.member("carol", "caseworker")
    _, html, _ = await worker.get("/review/1")
    fields = editor_fields(html)
    fields.update({"action": "publish", "danger": danger})
    status, html, _ = await worker.post("/review/1", fields)
    assert status == 303, html


def warning_block(html: str) -> str:
    match = re.search(
        r'<div class="match-warning match-(\d)" role="alert">(.*?)\n  </div>\n', html, re.S
    )
    assert match, html
    return match.group(0)


@pytest.mark.parametrize("danger", ["1", "2", "3"])
async def test_a_match_is_a_warning_in_words_colour_and_shape(site: Site, danger: str) -> None:
    await publish_with_danger(site, danger)
    member = await site.member("bea")
    status, html, _ = await member.post("/check", {"kind": "phone", "value": PHONE})
    assert status == 200
    block = warning_block(html)
    assert f'class="match-warning match-{danger}"' in block
    assert WORDS[danger] in block  # in words
    assert SHAPES[danger] in block  # and in shape
    for other in {"1", "2", "3"} - {danger}:
        assert WORDS[other] not in block and SHAPES[other] not in block
    assert "What was reported" in block and "Robbery, Violence" in block
    assert Translator("en").date(INCIDENT) in block  # the latest date
    assert "What to do now" in block and "tell someone you trust" in block  # the advice


async def test_the_warning_holds_the_organisations_own_advice(site: Site) -> None:
    await publish_with_danger(site, "3")
    admin = await site.member("root", "admin")
    advice = {"match_advice": "Call Maria on +44 7700 900999."}
    status, _, _ = await admin.post("/admin/texts/en/match_advice", advice, page="/admin/texts/en")
    assert status == 303
    member = await site.member("bea")
    _, html, _ = await member.post("/check", {"kind": "phone", "value": PHONE})
    assert "<p>Call Maria on +44 7700 900999.</p>" in warning_block(html)


async def test_no_alerts_found_keeps_its_caution(site: Site) -> None:
    member = await site.member("bea")
    status, html, _ = await member.post("/check", {"kind": "phone", "value": PHONE})
    assert status == 200
    assert "No alerts found" in html and "does not mean this person is safe" in html
    assert "match-warning" not in html
