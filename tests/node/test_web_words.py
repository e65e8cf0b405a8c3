"""Words, not keys (issue 13, item 7): error summaries name the field, a rate limit is a
notice for the page, closed choices are offered in words."""

from __future__ import annotations

import html as htmllib
import re

from tests.node.test_web_forms import GOOD_ALERT
from tests.node.test_web_support import Site, site_fixture  # noqa: F401


def summary_items(page: str) -> list[str]:
    box = re.search(r'<div class="error-summary" role="alert">(.*?)</div>', page, re.S)
    assert box, "no error summary"
    return [
        htmllib.unescape(i)
        for i in re.findall(r'<li><a href="#f-[a-z_0-9]+">(.*?)</a></li>', box.group(1))
    ]


async def test_the_error_summary_names_each_field(site: Site) -> None:
    member = await site.member("ana")
    status, page, _ = await member.post("/report", {})
    assert status == 400
    items = summary_items(page)
    # Before: "This is required." several times over, with nothing to tell them apart.
    assert len(items) >= 3 and len(set(items)) == len(items), items
    assert "When? (the day, no time): This is required." in items, items


async def test_a_rate_limit_is_a_page_notice_not_a_field_error(site: Site) -> None:
    member = await site.member("bea")
    site.state.host.unlocked().settings.set("checks_per_hour", 1)
    check = {"kind": "phone", "value": "+44 7700 900123"}
    status, _, _ = await member.post("/check", check)
    assert status == 200
    status, page, _ = await member.post("/check", check)
    assert status == 429
    assert re.search(r'<p class="notice error">[^<]*many checks this hour', page)
    assert 'class="field-error"' not in page and 'aria-invalid="true"' not in page


async def test_a_closed_choice_setting_is_offered_in_words(site: Site) -> None:
    admin = await site.member("root", "admin")
    _, page, _ = await admin.get("/admin/settings")
    chooser = re.search(r'<select id="f-report_withdrawal".*?</select>', page, re.S)
    assert chooser and "a caseworker confirms each withdrawal" in chooser.group()
    status, page, _ = await admin.post(
        "/admin/settings", {"alert_hops": "9"}, page="/admin/settings"
    )
    assert status == 400 and "Default hops: choose a number from 0 to 6." in page


async def test_roles_reasons_and_trust_options_are_words(site: Site) -> None:
    admin = await site.member("root", "admin")
    _, page, _ = await admin.get("/admin/members")
    role_select = re.search(r'<select id="f-role".*?</select>', page, re.S)
    assert role_select and ">caseworker (reviews reports" in role_select.group()
    assert '<option value="caseworker" selected>caseworker<' not in page
    _, page, _ = await admin.get("/admin/trust")
    accept = re.search(r'<select id="f-accept".*?</select>', page, re.S)
    assert accept and '<option value="relay">Their own alerts and the alerts they pass on' in (
        accept.group()
    )
    status, page, _ = await admin.post("/admin/trust", {"op": "add", "accept": "all"})
    assert status == 400 and "Accept from them: " in htmllib.unescape(page)
    status, page, _ = await admin.post("/review/new", GOOD_ALERT, page="/review/new")
    assert status == 303, page
    _, page, _ = await admin.get("/published")
    assert '<option value="mistaken">It was published by mistake or is wrong</option>' in page
    assert '<option value="resolved">resolved</option>' not in page
