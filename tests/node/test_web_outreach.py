"""Outreach reports (issue 16.1): a caseworker records a report for someone met in
person or by phone, with no account and no name and the person's own sharing choice;
it goes through the same review, redaction and publishing as a member's report."""

from __future__ import annotations

import json
import re

from tests.node.test_web_flow import REPORT, editor_fields
from tests.node.test_web_support import Site, site_fixture  # noqa: F401

OUTREACH = {**REPORT, "met": "phone", "asked": "yes"}


async def test_an_outreach_report_is_carried_to_a_published_alert(site: Site) -> None:
    worker = await site.member("carol", "caseworker")
    status, html, _ = await worker.get("/review")
    assert 'href="/outreach/new"' in html
    status, html, _ = await worker.get("/outreach/new")
    assert status == 200 and 'name="nickname"' not in html and 'name="name"' not in html
    status, html, resp = await worker.post("/outreach/new", OUTREACH)
    assert status == 303 and resp.headers["Location"].startswith("/review"), html
    [report] = await site.store.reports.list()
    assert report.member_id is None  # no account behind it
    assert report.content["source"] == "outreach" and report.content["met"] == "phone"
    assert report.content["share"] == "network" and report.content["share_asked"] is True
    status, html, _ = await worker.get("/review")
    assert "Outreach" in html
    status, html, _ = await worker.get(f"/review/{report.id}")
    assert "by phone, with the person&#39;s own sharing choice" in html
    # The same redaction helper as for a member's report: the second number is found.
    fields = editor_fields(html)
    fields["action"] = "apply"
    status, html, _ = await worker.post(f"/review/{report.id}", fields)
    fields = editor_fields(html)
    assert "900456" not in str(fields["description"])
    fields["action"] = "publish"
    status, html, resp = await worker.post(f"/review/{report.id}", fields)
    assert status == 303 and resp.headers["Location"] == "/published", html
    member = await site.member("mira")
    status, html, _ = await member.post("/check", {"kind": "phone", "value": "07700 900123"})
    assert "1 alert matches" in html
    actions = [e["action"] for e in await site.store.audit.list()]
    assert actions[:2] == ["publish", "outreach"]


async def test_the_persons_choice_must_be_asked_and_a_no_is_kept(site: Site) -> None:
    worker = await site.member("carol", "caseworker")
    status, html, _ = await worker.post(
        "/outreach/new", {k: v for k, v in OUTREACH.items() if k != "asked"}, page="/outreach/new"
    )
    assert status == 400 and "tick this box" in html
    assert await site.store.reports.list() == []
    status, html, _ = await worker.post("/outreach/new", {**OUTREACH, "share": "no"})
    assert status == 303
    [report] = await site.store.reports.list()
    status, html, _ = await worker.get(f"/review/{report.id}")
    # Someone met by outreach is no member (brief O2): the editor says "the person".
    assert "The person did not allow this report to be shared" in html
    assert "The member did not allow" not in html
    fields = editor_fields(html)
    fields["action"] = "publish"
    fields["keep_findings"] = "yes"
    status, html, _ = await worker.post(f"/review/{report.id}", fields)
    assert status == 400 and html.count("The person did not allow") >= 1
    assert "The member did not allow" not in html
    assert await site.node.unlocked().alerts.list() == []


async def test_members_cannot_record_outreach(site: Site) -> None:
    member = await site.member("mira")
    status, _, _ = await member.get("/outreach/new")
    assert status in (302, 303, 403)
    status, _, _ = await member.post("/outreach/new", OUTREACH, page="/report")
    assert status in (302, 303, 403)
    assert await site.store.reports.list() == []


async def test_the_caseworker_is_given_a_receipt_code_for_the_person(site: Site) -> None:
    """Brief O2: outreach reports got no receipt (nobody logged in to keep one)."""
    worker = await site.member("carol", "caseworker")
    status, _, _ = await worker.post("/outreach/new", OUTREACH)
    assert status == 303
    status, html, _ = await worker.get("/review")
    assert "Receipt for the person" in html
    code = re.search(r'class="receipt-code"><code>([A-Z2-7-]{29})</code>', html)
    assert code is not None
    # Shown once, kept nowhere: the next look has no receipt.
    _, again, _ = await worker.get("/review")
    assert code.group(1) not in again and "Receipt for the person" not in again
    [report] = await site.store.reports.list()
    assert code.group(1) not in json.dumps(report.content)
    # Anyone can check it on the public page.
    anyone = await site.visitor()
    status, html, _ = await anyone.post("/receipt", {"receipt": code.group(1)})
    assert status == 200 and "This receipt is real." in html
