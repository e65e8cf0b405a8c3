"""Identifiers in right-to-left pages (q1's Arabic walk at 360 px): a phone number,
address, handle or plate keeps its own direction inside Arabic text and in the fields
that hold it. Without that, the browser's bidi algorithm shows "+447700900123" as
"447700900123+" after an Arabic label, and a typed "07700 900123" as "900123 07700"."""

from __future__ import annotations

import re

from tests.node.test_web_flow import send_report
from tests.node.test_web_support import Site, site_fixture  # noqa: F401

IDENTIFIER_FIELDS = ("phone", "email", "handle", "plate")


def tag(html: str, element: str, name: str) -> str:
    found = re.search(rf'<{element}\b[^>]*\bname="{name}"[^>]*>', html)
    assert found, (element, name)
    return found.group(0)


async def test_the_checked_value_is_isolated_left_to_right(site: Site) -> None:
    member = await site.member("alice")
    await member.switch_language("ar", "/check")
    status, html, _ = await member.post("/check", {"kind": "phone", "value": "07700 900123"})
    assert status == 200 and 'dir="rtl"' in html
    # The value in its own left-to-right island, the sentence around it right to left.
    assert '<bdi dir="ltr">+447700900123</bdi>' in html
    assert 'dir="auto"' in tag(html, "input", "value")
    # Escaped inside the island like any value.
    status, html, _ = await member.post("/check", {"kind": "handle", "value": "x:<b>"})
    assert "<b>" not in html.split('<main id="main"', 1)[1]


async def test_identifier_fields_keep_their_own_direction(site: Site) -> None:
    member = await site.member("alice")
    await member.switch_language("ar", "/report")
    _, html, _ = await member.get("/report")
    for name in IDENTIFIER_FIELDS:  # (the region is a list of choices on this node)
        assert 'dir="auto"' in tag(html, "input", name), name
    _, html, _ = await member.get("/")
    assert 'dir="auto"' in tag(html, "input", "value")
    await send_report(member, text="Refused to pay.")

    worker = await site.member("carol", "caseworker")
    await worker.switch_language("ar", "/review/1")
    _, html, _ = await worker.get("/review/1")
    for name in IDENTIFIER_FIELDS:
        assert 'dir="auto"' in tag(html, "textarea", name), name
    # The report's own numbers, shown to the caseworker.
    assert '<dd><bdi dir="ltr">+447700900123</bdi></dd>' in html


async def test_a_members_own_report_shows_its_numbers_left_to_right(site: Site) -> None:
    member = await site.member("alice")
    await send_report(member, text="Refused to pay.")
    await member.switch_language("ar", "/reports")
    _, html, _ = await member.get("/reports")
    assert 'dir="rtl"' in html and '<dd><bdi dir="ltr">+447700900123</bdi></dd>' in html
