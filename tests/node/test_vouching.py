"""Members vouching (issue 15 item 13): a few member invites a month when the admin
allows it, and no record anywhere of who vouched for whom."""

from __future__ import annotations

import hashlib
import re
import sqlite3

from tests.node.test_web_support import PASSPHRASE, Site, site_fixture  # noqa: F401

CODE_RE = re.compile(r"shown only now: ([A-Z0-9-]+)\.")


async def _make_invite(member: object) -> str:
    status, _, resp = await member.post("/invite", {})  # type: ignore[attr-defined]
    assert status == 303 and resp.headers["Location"] == "/invite"
    _, html, _ = await member.get("/invite")  # type: ignore[attr-defined]
    found = CODE_RE.search(html)
    assert found, html
    return found.group(1)


async def test_vouching_is_off_by_default(site: Site) -> None:
    alice = await site.member("alice")
    status, _, _ = await alice.get("/invite")
    assert status == 404
    _, html, _ = await alice.get("/account")
    assert 'href="/invite"' not in html


async def test_a_member_invites_up_to_the_monthly_allowance(site: Site) -> None:
    site.node.unlocked().settings.set("member_invites_per_month", 2)
    alice = await site.member("alice")
    _, html, _ = await alice.get("/account")
    assert 'href="/invite"' in html
    _, html, _ = await alice.get("/invite")
    assert "You can make 2 more invites this month." in html
    first = await _make_invite(alice)
    # The reload after the redirect makes no second invite and no longer shows the code.
    _, html, _ = await alice.get("/invite")
    assert first not in html and "You can make 1 more invite this month." in html
    await _make_invite(alice)
    status, html, _ = await alice.post("/invite", {}, page="/invite")
    assert status == 403 and "You have made all your invites for this month." in html
    # Another member has her own allowance.
    bea = await site.member("bea")
    await _make_invite(bea)
    # The code works once, for a member.
    newcomer = await site.visitor()
    status, html, _ = await newcomer.post(
        "/signup",
        {
            "invite": first,
            "nickname": "carmen",
            "passphrase": PASSPHRASE,
            "passphrase2": PASSPHRASE,
        },
    )
    assert status == 303, html
    member, _ = await site.store.members.credentials("carmen")
    assert member is not None and member.role == "member"
    # The admin sees counts only.
    totals = await site.store.vouches.totals(site.node.clock.now())
    assert totals == {"created": 3, "joined": 1}
    admin = await site.member("root", "admin")
    _, html, _ = await admin.get("/admin/members")
    assert "Invites members made this month: 3" in html
    assert "People who joined with a member&#39;s invite this month: 1" in html


async def test_the_database_holds_no_link_between_voucher_and_invitee(site: Site) -> None:
    site.node.unlocked().settings.set("member_invites_per_month", 3)
    alice = await site.member("alice")
    code = await _make_invite(alice)
    newcomer = await site.visitor()
    await newcomer.post(
        "/signup",
        {
            "invite": code,
            "nickname": "carmen",
            "passphrase": PASSPHRASE,
            "passphrase2": PASSPHRASE,
        },
    )
    await _make_invite(alice)  # one still open
    alice_id = (await site.store.members.credentials("alice"))[0].id
    carmen_id = (await site.store.members.credentials("carmen"))[0].id
    await site.store.db.checkpoint()
    path = site.node.data_dir / "store.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        # No column anywhere names an inviter or voucher.
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            columns = [c[1] for c in db.execute(f"PRAGMA table_info({table})")]
            for column in columns:
                assert not re.search(r"invit(er|ed_by)|vouch(er|ed_by)|sponsor|referr", column), (
                    table,
                    column,
                )
        # The open invite row has no creator; the members table no sign of how she joined.
        invite_columns = [c[1] for c in db.execute("PRAGMA table_info(invites)")]
        assert invite_columns == ["code_tag", "role", "created", "expires", "vouched"]
        member_columns = [c[1] for c in db.execute("PRAGMA table_info(members)")]
        assert not any("invite" in c or "vouch" in c for c in member_columns)
        # The allowance row is a keyed tag and a number: neither member id appears.
        rows = db.execute("SELECT tag, month, used FROM vouch_allowance").fetchall()
        assert len(rows) == 1 and rows[0][2] == 2
        assert all(isinstance(r[0], bytes) and len(r[0]) >= 16 for r in rows)
        tag, month = rows[0][0], rows[0][1]
        for value in (alice_id, carmen_id):
            # A member id is a small number: one byte of a random tag may spell it by
            # chance, so look for what the tag is made from and its unkeyed hashes.
            preimage = f"{value}:{month}".encode()
            assert preimage not in tag
            for unkeyed in (
                hashlib.blake2b(preimage, digest_size=len(tag)).digest(),
                hashlib.sha256(preimage).digest()[: len(tag)],
            ):
                assert tag != unkeyed
        # The audit log says nothing of a member's invite.
        audit = db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
        assert audit == 0
