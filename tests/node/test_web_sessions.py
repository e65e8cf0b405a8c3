"""Sessions and rate limits: no fixation, logout and revocation end sessions, the idle
timeout, bounded in-memory state, and login/check limits per account and per client."""

from __future__ import annotations

from node.web.ratelimit import RateLimit, key_of
from node.web.sessions import Sessions
from tests.node.test_web_support import PASSPHRASE, Site, site_fixture  # noqa: F401


async def test_login_issues_a_new_session_id(site: Site) -> None:
    v = await site.visitor()
    await v.signup("alice")
    first = v.cookie("an_session")
    assert first
    status, _, _ = await v.login("alice")
    assert status == 303
    second = v.cookie("an_session")
    assert second and second != first
    status, _, _ = await v.get("/check")
    assert status == 200
    # The old id no longer works.
    other = await site.visitor()
    other.client.session.cookie_jar.update_cookies({"an_session": first})
    status, _, _ = await other.get("/check")
    assert status == 303


async def test_planted_session_id_is_never_promoted(site: Site) -> None:
    await (await site.visitor()).signup("alice")
    victim = await site.visitor()
    victim.client.session.cookie_jar.update_cookies({"an_session": "planted-by-attacker"})
    status, _, _ = await victim.login("alice")
    assert status == 303
    assert "planted-by-attacker" not in site.state.sessions
    assert len(site.state.sessions) == 2  # the sign-up's and the login's, each fresh
    attacker = await site.visitor()
    attacker.client.session.cookie_jar.update_cookies({"an_session": "planted-by-attacker"})
    status, _, _ = await attacker.get("/check")
    assert status == 303


async def test_logout_invalidates_the_session(site: Site) -> None:
    v = await site.member("alice")
    sid = v.cookie("an_session")
    status, _, resp = await v.post("/logout", {}, page="/check")
    assert status == 303 and resp.headers["Location"] == "/"
    assert resp.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    replay = await site.visitor()
    replay.client.session.cookie_jar.update_cookies({"an_session": sid})
    status, _, resp = await replay.get("/check")
    assert status == 303 and resp.headers["Location"] == "/login"
    assert len(site.state.sessions) == 0


async def test_idle_timeout(site: Site) -> None:
    v = await site.member("alice")
    clock = site.node.clock
    clock.advance(29 * 60)  # type: ignore[attr-defined]
    status, _, _ = await v.get("/check")
    assert status == 200  # each request restarts the idle time
    clock.advance(29 * 60)  # type: ignore[attr-defined]
    status, _, _ = await v.get("/check")
    assert status == 200
    clock.advance(31 * 60)  # type: ignore[attr-defined]
    status, _, resp = await v.get("/check")
    assert status == 303 and resp.headers["Location"] == "/login"


async def test_revoked_member_is_logged_out_and_cannot_log_in(site: Site) -> None:
    admin = await site.member("root", "admin")
    alice = await site.member("alice")
    alice_id = next(m.id for m in await site.store.members.list() if m.nickname == "alice")
    status, _, _ = await admin.post(
        f"/admin/members/{alice_id}/revoke", {"confirm": "yes"}, page="/admin/members"
    )
    assert status == 303
    status, _, _ = await alice.get("/check")
    assert status == 303
    status, html, _ = await alice.login("alice")
    assert status == 400 and "do not match" in html


async def test_invite_code_shown_once_and_role_applies(site: Site) -> None:
    import re

    admin = await site.member("root", "admin")
    status, html, _ = await admin.post(
        "/admin/invites", {"role": "caseworker", "days": "3"}, page="/admin/members"
    )
    assert status == 303
    _, html, _ = await admin.get("/admin/members")
    code = re.search(r'id="invite-code">([A-Z0-9-]+)<', html).group(1)  # type: ignore[union-attr]
    _, html, _ = await admin.get("/admin/members")
    assert code not in html
    v = await site.visitor()
    status, _, _ = await v.post(
        "/signup",
        {"invite": code, "nickname": "carol", "passphrase": PASSPHRASE, "passphrase2": PASSPHRASE},
    )
    assert status == 303
    status, _, _ = await v.get("/review")
    assert status == 200


def test_session_store_is_bounded() -> None:
    sessions = Sessions(max_sessions=3)
    made = [sessions.create(i, "member", f"m{i}", 0) for i in range(5)]
    assert len(sessions) == 3
    assert sessions.get(made[0].id, 0, 60) is None
    assert sessions.get(made[4].id, 0, 60) is not None


def test_rate_limit_is_bounded_and_windowed() -> None:
    limit = RateLimit(2, 60, max_keys=10)
    key = key_of("test", "client")
    assert limit.allowed(key, 0)
    limit.hit(key, 0)
    limit.hit(key, 1)
    assert not limit.allowed(key, 59)
    assert limit.allowed(key, 60)  # next window
    for i in range(50):
        limit.hit(key_of("test", str(i)), 0)
    assert len(limit) == 10
    assert b"client" not in key  # keys are keyed hashes, not the values


async def test_login_limit_per_account(site: Site) -> None:
    await (await site.visitor()).signup("alice")
    for i in range(5):
        v = await site.visitor()
        status, _, _ = await v.login("alice", f"wrong guess {i}")
        assert status == 400
    v = await site.visitor()
    status, html, _ = await v.login("alice")  # even the right passphrase waits now
    assert status == 429 and "Too many attempts" in html
    assert v.cookie("an_session") is None
    site.node.clock.advance(15 * 60)  # type: ignore[attr-defined]
    status, _, _ = await v.login("alice")
    assert status == 303


async def test_login_limit_per_client(site: Site) -> None:
    v = await site.visitor()
    site.state.limits.login_client.limit = 4
    for i in range(4):
        status, _, _ = await v.login(f"nobody{i}", "wrong guess!")
        assert status == 400
    status, html, _ = await v.login("nobody9", "wrong guess!")
    assert status == 429 and "Too many attempts" in html


async def test_check_limit_per_member_and_per_client(site: Site) -> None:
    site.node.unlocked().settings.set("checks_per_hour", 3)
    site.node.unlocked().settings.set("session_idle_minutes", 1440)
    alice = await site.member("alice")
    for _ in range(3):
        status, _, _ = await alice.post("/check", {"kind": "plate", "value": "AB12CDE"})
        assert status == 200
    status, html, _ = await alice.post("/check", {"kind": "plate", "value": "AB12CDE"})
    assert status == 429 and "many checks this hour" in html
    site.node.clock.advance(3600)  # type: ignore[attr-defined]
    status, _, _ = await alice.post("/check", {"kind": "plate", "value": "AB12CDE"})
    assert status == 200

    site.node.unlocked().settings.set("checks_per_hour", 100)
    site.state.limits.check_client.limit = 2
    site.node.clock.advance(3600)  # type: ignore[attr-defined]
    bob = await site.member("bobby")
    for _ in range(2):
        status, _, _ = await bob.post("/check", {"kind": "plate", "value": "AB12CDE"})
        assert status == 200
    status, _, _ = await bob.post("/check", {"kind": "plate", "value": "AB12CDE"})
    assert status == 429  # same client address as alice's, whoever is logged in


async def test_signup_limit_per_client(site: Site) -> None:
    site.state.limits.signup_client.limit = 2
    v = await site.visitor()
    for _ in range(2):
        status, _, _ = await v.post(
            "/signup",
            {
                "invite": "WRONG-CODE",
                "nickname": "newbie",
                "passphrase": PASSPHRASE,
                "passphrase2": PASSPHRASE,
            },
        )
        assert status == 400
    status, html, _ = await v.post(
        "/signup",
        {
            "invite": await site.invite(),
            "nickname": "newbie",
            "passphrase": PASSPHRASE,
            "passphrase2": PASSPHRASE,
        },
    )
    assert status == 429 and "Too many attempts" in html
