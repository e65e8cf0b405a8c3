"""Issue 13.3: a member's reports tell the truth. A published report's status follows
its alert (retracted, replaced by a correction, expired); each report is titled by the
day of the incident and what happened."""

from __future__ import annotations

import re

from tests.node.test_web_confirm import publish_one
from tests.node.test_web_flow import INCIDENT, editor_fields
from tests.node.test_web_support import Site, site_fixture  # noqa: F401


def status_line(html: str) -> str:
    match = re.search(r"<p>Status: ([^<]+)</p>", html)
    assert match, html
    return match.group(1)


async def test_a_report_is_titled_by_incident_day_and_category(site: Site) -> None:
    member, _, _ = await publish_one(site)
    _, html, _ = await member.get("/reports")
    title = re.search(r'<article class="card report">\s*<h2>([^<]+)</h2>', html)
    assert title, html
    assert "Violence, Robbery" in title.group(1)
    from node.web.i18n import Translator

    assert title.group(1).startswith(Translator("en").date(INCIDENT))
    assert status_line(html) == "published as an alert"


async def test_status_follows_a_retraction(site: Site) -> None:
    member, worker, alert_id = await publish_one(site)
    form = {"reason": "mistaken", "confirm": "yes"}
    status, _, _ = await worker.post(f"/published/{alert_id}/retract", form, page="/published")
    assert status == 303
    _, html, _ = await member.get("/reports")
    assert status_line(html).startswith("published as an alert, then retracted")
    assert "Withdraw the alert made from this report" not in html


async def test_status_follows_a_correction(site: Site) -> None:
    member, worker, alert_id = await publish_one(site)
    _, html, _ = await worker.get(f"/supersede/{alert_id}")
    fields = editor_fields(html)
    fields.update({"danger": "2", "action": "publish"})
    status, html, _ = await worker.post(f"/supersede/{alert_id}", fields)
    assert status == 303, html
    _, html, _ = await member.get("/reports")
    # The report now names the correction, which is published.
    assert status_line(html) == "published as an alert"
    (report,) = await site.store.reports.list()
    assert report.alert_id is not None and report.alert_id.hex() != alert_id


async def test_status_says_an_alert_was_replaced_when_the_report_names_the_old_one(
    site: Site,
) -> None:
    member, worker, alert_id = await publish_one(site)
    _, html, _ = await worker.get(f"/supersede/{alert_id}")
    fields = editor_fields(html)
    fields.update({"danger": "2", "action": "publish"})
    (report,) = await site.store.reports.list()
    status, _, _ = await worker.post(f"/supersede/{alert_id}", fields)
    assert status == 303
    # A report that still names the replaced alert (made before corrections moved it).
    await site.store.reports.set_status(report.id, "published", bytes.fromhex(alert_id))
    _, html, _ = await member.get("/reports")
    assert status_line(html) == "published as an alert, then replaced by a corrected alert"


async def test_status_follows_expiry(site: Site) -> None:
    member, _, _ = await publish_one(site)
    site.node.clock.advance(91 * 86400)  # the editor's default expiry is 90 days
    status, _, _ = await member.login("alice")  # the session timed out meanwhile
    assert status == 303
    _, html, _ = await member.get("/reports")
    assert status_line(html) == "published as an alert, which has now expired"
