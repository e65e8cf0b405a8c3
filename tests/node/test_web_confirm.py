"""Issue 13.4 and 13.9: destructive actions ask first and say what they did; an invite
is made by POST-redirect-GET and open invites can be revoked; admins read member
numbers in the member list and the day of each audit entry.

Each destructive POST without ``confirm=yes`` answers with a confirmation page and
changes nothing (it works without JavaScript: the page is a plain form).
"""

from __future__ import annotations

import re
from typing import Any

from node.web.i18n import Translator
from tests.node.test_web_flow import editor_fields, send_report
from tests.node.test_web_support import Site, site_fixture  # noqa: F401

CONFIRM_FORM = re.compile(
    r'<form method="post" action="([^"]+)" class="confirm-actions">(.*?)</form>', re.S
)


def confirm_form(html: str) -> tuple[str, dict[str, str]]:
    """The confirmation page's form: where it posts and its hidden fields."""
    match = CONFIRM_FORM.search(html)
    assert match, "no confirmation form on the page"
    fields = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', match.group(2))
    )
    return match.group(1), fields


async def publish_one(site: Site) -> tuple[Any, Any, str]:
    member = await site.member("alice")
    await send_report(member, text="Refused to pay.")
    worker = await site.member("carol", "caseworker")
    _, html, _ = await worker.get("/review/1")
    fields = editor_fields(html)
    fields["action"] = "publish"
    status, html, _ = await worker.post("/review/1", fields)
    assert status == 303, html
    alert_id = (await site.node.unlocked().alerts.list())[0]["id"]
    return member, worker, alert_id


async def test_deleting_a_report_asks_first_then_says_it_is_deleted(site: Site) -> None:
    member = await site.member("alice")
    await send_report(member)
    status, html, _ = await member.post("/reports/1/delete", {}, page="/reports")
    assert status == 200 and "Delete this report" in html
    assert "cannot be brought back" in html and 'href="/reports"' in html
    assert len(await site.store.reports.list()) == 1  # nothing deleted yet
    action, fields = confirm_form(html)
    assert action == "/reports/1/delete" and fields["confirm"] == "yes"
    status, _, resp = await member.post(action, fields)
    assert status == 303 and resp.headers["Location"] == "/reports"
    assert await site.store.reports.list() == []
    _, html, _ = await member.get("/reports")
    assert "The report is deleted." in html


async def test_retracting_an_alert_asks_first(site: Site) -> None:
    _, worker, alert_id = await publish_one(site)
    path = f"/published/{alert_id}/retract"
    status, html, _ = await worker.post(path, {"reason": "mistaken"}, page="/published")
    assert status == 200 and "Retract this alert?" in html
    assert len(await site.node.unlocked().alerts.list()) == 1
    action, fields = confirm_form(html)
    assert fields["reason"] == "mistaken"
    status, _, _ = await worker.post(action, fields)
    assert status == 303
    assert await site.node.unlocked().alerts.list() == []
    _, html, _ = await worker.get("/published")
    assert "The alert is retracted." in html


async def test_revoking_a_member_asks_first_naming_their_number(site: Site) -> None:
    admin = await site.member("root", "admin")
    await site.member("alice")
    alice = next(m for m in await site.store.members.list() if m.nickname == "alice")
    path = f"/admin/members/{alice.id}/revoke"
    status, html, _ = await admin.post(path, {}, page="/admin/members")
    assert status == 200 and f"Revoke #{alice.id} alice (member)?" in html
    assert alice in await site.store.members.list()
    action, fields = confirm_form(html)
    status, _, _ = await admin.post(action, fields)
    assert status == 303
    assert alice not in await site.store.members.list()
    _, html, _ = await admin.get("/admin/members")
    assert "The member is revoked" in html


async def test_removing_a_peer_asks_first_and_says_so(site: Site, make_node: Any) -> None:
    other = await make_node(name="Other org")
    admin = await site.member("root", "admin")
    card = other.unlocked().trust.card()
    status, html, _ = await admin.post(
        "/admin/trust", {"op": "add", "card": card, "accept": "direct"}
    )
    assert status == 303, html
    key = (await site.store.peers.list())[0].key.hex()
    form = {"op": "remove", "key": key, "purge": "yes"}
    status, html, _ = await admin.post("/admin/trust", form)
    assert status == 200 and "Remove Other org from the trust list?" in html
    assert "deletes every alert it originated" in html
    assert len(await site.store.peers.list()) == 1
    action, fields = confirm_form(html)
    assert fields["purge"] == "yes" and fields["op"] == "remove"
    status, _, _ = await admin.post(action, fields)
    assert status == 303
    assert await site.store.peers.list() == []
    _, html, _ = await admin.get("/admin/trust")
    assert "The peer is removed from the trust list, and every alert" in html


async def test_an_invite_is_post_redirect_get_and_a_reload_makes_no_other(site: Site) -> None:
    admin = await site.member("root", "admin")
    before = len(await site.store.members.list_invites(site.node.clock.now()))
    status, _, resp = await admin.post(
        "/admin/invites", {"role": "member", "days": "3"}, page="/admin/members"
    )
    assert status == 303 and resp.headers["Location"] == "/admin/members"
    _, html, _ = await admin.get("/admin/members")
    code = re.search(r'id="invite-code">([A-Z0-9-]+)<', html)
    assert code and "The invite is made." in html
    _, again, _ = await admin.get("/admin/members")  # the reload
    assert code.group(1) not in again and 'id="invite-code"' not in again
    invites = await site.store.members.list_invites(site.node.clock.now())
    assert len(invites) == before + 1


async def test_open_invites_are_listed_and_can_be_revoked(site: Site) -> None:
    admin = await site.member("root", "admin")
    _, html, _ = await admin.get("/admin/members")
    before = set(re.findall(r'name="invite" value="([0-9a-f]+)"', html))  # init's admin invite
    code = await site.invite("caseworker")
    _, html, _ = await admin.get("/admin/members")
    refs = sorted(set(re.findall(r'name="invite" value="([0-9a-f]+)"', html)) - before)
    assert len(refs) == 1 and code not in html
    status, _, _ = await admin.post(
        "/admin/invites/revoke", {"invite": refs[0]}, page="/admin/members"
    )
    assert status == 303
    assert len(await site.store.members.list_invites(site.node.clock.now())) == len(before)
    _, html, _ = await admin.get("/admin/members")
    assert "The invite is revoked" in html
    v = await site.visitor()
    status, html, _ = await v.post(
        "/signup",
        {"invite": code, "nickname": "late", "passphrase": "a long enough passphrase",
         "passphrase2": "a long enough passphrase"},
    )  # fmt: skip
    assert status == 400
    status, _, _ = await admin.post(
        "/admin/invites/revoke", {"invite": refs[0]}, page="/admin/members"
    )
    assert status == 404


async def test_member_list_shows_member_numbers(site: Site) -> None:
    admin = await site.member("root", "admin")
    await site.member("carol", "caseworker")
    carol = next(m for m in await site.store.members.list() if m.nickname == "carol")
    _, html, _ = await admin.get("/admin/members")
    assert f'<td><span class="member-number">#{carol.id}</span> carol</td>' in html


async def test_audit_entries_show_their_day(site: Site) -> None:
    admin = await site.member("root", "admin")
    await publish_one(site)
    _, html, _ = await admin.get("/admin/audit")
    (entry,) = await site.store.audit.list()
    day = site.node.clock.now() // 86400 * 86400
    assert entry["at"] == day
    assert "the day only" in html
    assert "published an alert" in html  # the action in words
    assert Translator("en").date(day) in html


async def test_revoking_an_invite_takes_only_an_admin_and_a_real_one(site: Site) -> None:
    admin = await site.member("root", "admin")
    member = await site.member("alice")
    await site.invite("member")
    now = site.node.clock.now()
    before = await site.store.members.list_invites(now)
    ref = str(before[0]["ref"])
    status, _, _ = await member.post("/admin/invites/revoke", {"invite": ref}, page="/check")
    assert status == 403
    for hostile in ("", "zz", "00" * 32, ref[:-2], "x" * 500):
        status, _, _ = await admin.post(
            "/admin/invites/revoke", {"invite": hostile}, page="/admin/members"
        )
        assert status in (400, 404), hostile
    assert await site.store.members.list_invites(now) == before
