"""The main journeys through the web app, in process: report, review, publish, check,
retract, supersede; downloads, feeds, bulletins and account deletion."""

from __future__ import annotations

import datetime
import json
import re

from tests.node.test_web_support import Site, Visitor, site_fixture  # noqa: F401

INCIDENT = (datetime.date.today() - datetime.timedelta(days=3)).isoformat()

PHONE = "07700 900123"
REPORT = {
    "categories": ["violence", "robbery"],
    "incident": INCIDENT,
    "region": "GB-LND",
    "danger": "3",
    "phone": PHONE,
    "email": "",
    "handle": "",
    "plate": "",
    "person": "Tall, grey estate car",
    "text": "He hit me and took the money. His other number is +44 7700 900456.",
    "share": "network",
}


async def send_report(member: Visitor, **changes: object) -> None:
    status, html, resp = await member.post("/report", {**REPORT, **changes})
    assert status == 303, html
    assert resp.headers["Location"] == "/reports"


async def browse(member: Visitor, **filters: str) -> str:
    """Choose browse filters as the form does (a POST kept in the session), then read
    the plain /alerts page it redirects to."""
    status, html, resp = await member.post("/alerts", filters, page="/alerts")
    assert status == 303 and resp.headers["Location"] == "/alerts", html
    status, html, _ = await member.get("/alerts")
    assert status == 200
    return html


def editor_fields(html: str) -> dict[str, object]:
    """The editor form as a browser would submit it (textareas, checked boxes, selects)."""
    fields: dict[str, object] = {}
    for name, value in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', html):
        fields[name] = value.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name or name.group(1) == "csrf":
            continue
        kind = re.search(r'type="([^"]+)"', tag)
        if kind and kind.group(1) in ("checkbox", "radio"):
            if " checked" in tag:
                key = name.group(1)
                if key == "categories":
                    fields.setdefault(key, []).append(value.group(1))  # type: ignore[union-attr]
                else:
                    fields[key] = value.group(1) if value else "yes"
        elif value:
            fields[name.group(1)] = value.group(1)
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        first = re.search(r'<option value="([^"]*)"', body)
        fields[name] = (chosen or first).group(1) if (chosen or first) else ""  # type: ignore[union-attr]
    return fields


async def test_report_review_publish_check_retract(site: Site) -> None:
    member = await site.member("alice")
    await send_report(member)
    status, html, _ = await member.get("/reports")
    assert "waiting for review" in html

    worker = await site.member("carol", "caseworker")
    status, html, _ = await worker.get("/review")
    report_id = re.search(r'href="/review/(\d+)"', html).group(1)  # type: ignore[union-attr]
    status, html, _ = await worker.get(f"/review/{report_id}")
    assert status == 200
    # The redaction helper flags the second number in the account of what happened.
    assert "+44 7700 900456" in html and 'value="+447700900456"' in html
    fields = editor_fields(html)
    assert fields["phone"] == "+447700900123"
    fields["action"] = "apply"
    status, html, _ = await worker.post(f"/review/{report_id}", fields)
    assert status == 200, html
    fields = editor_fields(html)
    assert "900456" not in str(fields["description"])
    assert "+447700900456" in str(fields["phone"])

    fields["action"] = "preview"
    status, html, _ = await worker.post(f"/review/{report_id}", fields)
    assert status == 200, html
    assert "Exactly what other organisations will receive" in html
    body = re.search(r"<pre>(.*?)</pre>", html, re.S).group(1)  # type: ignore[union-attr]
    assert "7700900123" not in body and "&#34;danger&#34;: 3" in body  # identifiers blinded only

    fields["action"] = "publish"
    status, html, resp = await worker.post(f"/review/{report_id}", fields)
    assert status == 303, html
    assert resp.headers["Location"] == "/published"

    status, html, _ = await member.post("/check", {"kind": "phone", "value": "+44 7700 900123"})
    assert status == 200
    assert "1 alert matches" in html and "Dangerous" in html and "Robbery" in html
    status, html, _ = await member.post("/check", {"kind": "phone", "value": "+447700900456"})
    assert "1 alert matches" in html
    status, html, _ = await member.get("/reports")
    assert "published as an alert" in html

    entries = await site.store.audit.list()
    assert entries[0]["action"] == "publish" and entries[0]["role"] == "caseworker"
    assert "carol" not in json.dumps(entries)

    status, html, _ = await worker.get("/published")
    alert_id = re.search(r'action="/published/([0-9a-f]{64})/retract"', html).group(1)  # type: ignore[union-attr]
    status, html, _ = await worker.post(
        f"/published/{alert_id}/retract", {"reason": "because"}, page="/published"
    )
    assert status == 400 and "Choose a reason for the retraction." in html
    status, html, _ = await worker.post(
        f"/published/{alert_id}/retract",
        {"reason": "mistaken", "confirm": "yes"},
        page="/published",
    )
    assert status == 303, html
    status, html, _ = await member.post("/check", {"kind": "phone", "value": PHONE})
    assert "No alerts found" in html and "does not mean this person is safe" in html
    assert (await site.store.audit.list())[0]["action"] == "retract"


async def test_supersede_keeps_indicators_from_the_report(site: Site) -> None:
    member = await site.member("alice")
    await send_report(member, text="Refused to pay.")
    worker = await site.member("carol", "caseworker")
    _, html, _ = await worker.get("/review/1")
    fields = editor_fields(html)
    fields["action"] = "publish"
    status, html, _ = await worker.post("/review/1", fields)
    assert status == 303, html
    old = (await site.node.unlocked().alerts.list())[0]["id"]
    status, html, _ = await worker.get(f"/supersede/{old}")
    assert status == 200 and "Replace an alert" in html
    fields = editor_fields(html)
    assert fields["phone"] == "+447700900123"
    fields["danger"] = "2"
    fields["action"] = "publish"
    status, html, _ = await worker.post(f"/supersede/{old}", fields)
    assert status == 303, html
    alerts = await site.node.unlocked().alerts.list()
    assert [a["danger"] for a in alerts] == [2]
    assert alerts[0]["supersedes"] == old
    _, html, _ = await member.post("/check", {"kind": "phone", "value": PHONE})
    assert "1 alert matches" in html and "Risky" in html


async def test_publish_refused_with_unresolved_identifiers_or_no_consent(site: Site) -> None:
    member = await site.member("alice")
    await send_report(member)
    await send_report(member, share="no")
    worker = await site.member("carol", "caseworker")
    _, html, _ = await worker.get("/review/1")
    fields = editor_fields(html)
    fields["action"] = "publish"
    for key in [k for k in fields if k.startswith("fix_")]:
        fields[key] = "keep"
    status, html, _ = await worker.post("/review/1", fields)
    assert status == 400 and "still contains identifiers" in html
    _, html, _ = await worker.get("/review/2")
    fields = editor_fields(html)
    fields["action"] = "publish"
    fields["keep_findings"] = "yes"
    status, html, _ = await worker.post("/review/2", fields)
    assert status == 400 and "did not allow" in html
    assert await site.node.unlocked().alerts.list() == []


async def test_member_downloads_and_deletes_only_own_reports(site: Site) -> None:
    alice = await site.member("alice")
    bob = await site.member("bobby")
    await send_report(alice)
    status, body, resp = await alice.post(
        "/reports/1/save", {"confirm": "yes"}, page="/reports/1/save"
    )
    assert status == 200 and "attachment" in resp.headers["Content-Disposition"]
    assert "+447700900123" in body
    status, _, _ = await bob.get("/reports/1/save")
    assert status == 404
    status, _, _ = await bob.post("/reports/1/delete", {}, page="/reports")
    assert status == 404
    status, _, _ = await alice.post("/reports/1/delete", {"confirm": "yes"}, page="/reports")
    assert status == 303
    assert await site.store.reports.list() == []


async def test_delete_account_removes_member_and_reports(site: Site) -> None:
    alice = await site.member("alice")
    await send_report(alice)
    status, html, _ = await alice.post(
        "/account/delete", {"passphrase": "a long enough passphrase"}, page="/account"
    )
    assert status == 400 and "Tick the box" in html
    status, html, resp = await alice.post(
        "/account/delete",
        {"passphrase": "a long enough passphrase", "confirm": "yes"},
        page="/account",
    )
    # Said on the answer itself, not after a redirect to a URL that would say it.
    assert status == 200 and "Your account and your reports are deleted." in html
    assert resp.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    assert await site.store.members.list() == []
    assert await site.store.reports.list() == []
    status, _, resp = await alice.get("/check")
    assert status == 303 and resp.headers["Location"] == "/login"


async def test_passphrase_change(site: Site) -> None:
    alice = await site.member("alice")
    new = "another long passphrase"
    status, html, _ = await alice.post(
        "/account/passphrase",
        {"current": "wrong passphrase!", "new": new, "new2": new},
        page="/account",
    )
    assert status == 400 and "not your current passphrase" in html
    status, html, _ = await alice.post(
        "/account/passphrase",
        {"current": "a long enough passphrase", "new": new, "new2": new},
        page="/account",
    )
    assert status == 303, html
    other = await site.visitor()
    status, _, _ = await other.login("alice")
    assert status == 400
    status, _, _ = await other.login("alice", new)
    assert status == 303


async def test_browse_feed_and_bulletin(site: Site) -> None:
    worker = await site.member("carol", "caseworker")
    for region, danger in (("GB-LND", "3"), ("GB-MAN", "1")):
        _, html, _ = await worker.get("/review/new")
        fields = editor_fields(html)
        fields.update(
            categories=["stalking"],
            danger=danger,
            region=region,
            description=f"Alert in {region}",
            action="publish",
        )
        status, html, _ = await worker.post("/review/new", fields)
        assert status == 303, html
    member = await site.member("alice")
    html = await browse(member, region="GB-MAN")
    assert "Alert in GB-MAN" in html and "Alert in GB-LND" not in html
    html = await browse(member, danger="3")
    assert "Alert in GB-LND" in html and "Alert in GB-MAN" not in html
    html = await browse(member, category="violence")
    assert "Alert in" not in html
    status, html, _ = await member.post("/alerts", {"danger": "9"}, page="/alerts")
    assert status == 400 and "Choose one of the options shown." in html
    _, html, _ = await member.get("/alerts")  # the last good choice is kept
    assert "Alert in" not in html and 'value="violence" selected' in html

    _, html, _ = await member.post("/feed", {"region": "GB-LND", "lang": "fr"}, page="/feed")
    url = re.search(r'value="(http[^"]+\.atom)"', html).group(1)  # type: ignore[union-attr]
    path = url.split("//", 1)[1].split("/", 1)[1]
    anonymous = await site.visitor()
    status, xml, resp = await anonymous.get("/" + path)
    assert status == 200 and resp.content_type == "application/atom+xml"
    assert "Alert in GB-LND" in xml and "Alert in GB-MAN" not in xml
    assert "Harcèlement" in xml  # categories in the feed's language
    status, _, _ = await anonymous.get("/" + path.replace(".atom", "").rstrip("0") + "1.atom")
    assert status == 404

    status, html, _ = await member.post(
        "/bulletin", {"region": "GB-LND", "lang": "es"}, page="/bulletin"
    )
    assert status == 200 and 'lang="es"' in html and "Alert in GB-LND" in html
    assert "Acoso" in html
