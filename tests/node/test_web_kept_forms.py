"""A form sent after the session was lost keeps what was typed (issue 13 item 7):
kept in memory only for the same site's own forms, never a passphrase, shown again
after logging in and never sent by itself; bounded, expiring, dropped by the quick
exit, logout and a locked node."""

from __future__ import annotations

from multidict import MultiDict, MultiDictProxy

from node.web.kept import (
    KEPT_COOKIE,
    KEPT_FOR_S,
    MAX_KEPT_BYTES,
    KeptForm,
    KeptForms,
    keepable_fields,
)
from tests.node.test_web_flow import REPORT
from tests.node.test_web_support import Site, Visitor, site_fixture  # noqa: F401

SAME_SITE = {"Sec-Fetch-Site": "same-origin"}
TYPED = "He followed me home after the booking. A long account I do not want to lose."
IDLE_S = 31 * 60  # past the default session_idle_minutes (30)


async def stale_report_form(site: Site, nickname: str = "alice") -> tuple[Visitor, str]:
    """A member with the report form open, whose session then times out."""
    member = await site.member(nickname)
    token = await member.token("/report")
    site.node.clock.advance(IDLE_S)  # type: ignore[attr-defined]
    return member, token


async def send_late(member: Visitor, token: str, **headers: str) -> tuple[int, str, object]:
    form = {**REPORT, "text": TYPED, "csrf": token}
    return await member.post("/report", form, headers=headers or SAME_SITE)


async def test_report_sent_after_expiry_comes_back_filled_in_after_login(site: Site) -> None:
    member, token = await stale_report_form(site)
    status, html, resp = await send_late(member, token)
    assert status == 200
    assert 'id="kept-notice"' in html and 'action="/login"' in html
    assert TYPED not in html  # the log-in page does not show it
    cookie = resp.cookies[KEPT_COOKIE]  # type: ignore[attr-defined]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert TYPED not in cookie.value and int(cookie["max-age"]) == KEPT_FOR_S
    assert len(site.state.kept) == 1
    status, _, resp = await member.login("alice")
    assert status == 303 and resp.headers["Location"] == "/report"
    assert len(site.state.kept) == 0  # handed to the session
    status, html, _ = await member.get("/report")
    assert status == 200
    assert TYPED in html and 'id="kept-notice"' in html
    assert 'value="violence" checked' in html and 'value="robbery" checked' in html
    # Shown once.
    status, html, _ = await member.get("/report")
    assert TYPED not in html and 'id="kept-notice"' not in html


async def test_the_kept_form_was_not_sent(site: Site) -> None:
    member, token = await stale_report_form(site)
    await send_late(member, token)
    await member.login("alice")
    _, html, _ = await member.get("/reports")
    assert "grey estate car" not in html and TYPED not in html
    _, html, _ = await member.get("/report")
    assert TYPED in html


async def test_cross_site_post_keeps_nothing(site: Site) -> None:
    origin = str(site.server.make_url("/")).rstrip("/")
    member = await site.member("alice")
    for headers in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "none", "Origin": origin},  # the browser's word wins
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"X-Nothing": "no header that says where it came from"},
    ):
        await member.login("alice")
        token = await member.token("/report")
        site.node.clock.advance(IDLE_S)  # type: ignore[attr-defined]
        status, html, resp = await send_late(member, token, **headers)
        assert status == 403, headers
        assert KEPT_COOKIE not in resp.cookies, headers  # type: ignore[attr-defined]
        assert TYPED not in html
    assert len(site.state.kept) == 0


async def test_same_origin_header_is_enough_without_sec_fetch_site(site: Site) -> None:
    member, token = await stale_report_form(site)
    origin = str(site.server.make_url("/")).rstrip("/")
    status, html, _ = await send_late(member, token, Origin=origin)
    assert status == 200 and 'id="kept-notice"' in html
    assert len(site.state.kept) == 1


async def test_passphrases_tokens_and_files_are_never_kept(site: Site) -> None:
    member, token = await stale_report_form(site)
    form = MultiDict(
        {**{k: v for k, v in REPORT.items() if k != "categories"}, "text": TYPED, "csrf": token}
    )
    form.add("passphrase", "my secret passphrase")
    form.add("current", "old secret")
    form.add("new_passphrase", "another secret")
    form.add("pow", "123")
    status, _, resp = await member.post("/report", form, headers=SAME_SITE)
    assert status == 200
    ref = resp.cookies[KEPT_COOKIE].value  # type: ignore[attr-defined]
    kept = site.state.kept.take(ref, site.node.clock.now())
    assert kept is not None and kept.fields["text"] == (TYPED,)
    assert not {"passphrase", "current", "new_passphrase", "csrf", "pow"} & set(kept.fields)
    # A form of passphrases only keeps nothing at all.
    _, token2 = await stale_report_form(site, "bob")
    account = {"current": "x" * 20, "new": "y" * 20, "new2": "y" * 20, "csrf": token2}
    status, _, resp = await member.post("/account/passphrase", account, headers=SAME_SITE)
    assert status == 403 and KEPT_COOKIE not in resp.cookies  # type: ignore[attr-defined]


def test_files_and_oversized_forms_are_not_kept() -> None:
    data: MultiDict[object] = MultiDict({"text": "typed"})
    data.add("upload", object())  # a file part
    assert keepable_fields(MultiDictProxy(data)) == {"text": ("typed",)}  # type: ignore[arg-type]
    big = MultiDictProxy(MultiDict({"text": "x" * (MAX_KEPT_BYTES + 1)}))
    assert keepable_fields(big) is None
    blank = MultiDictProxy(MultiDict({"text": "  ", "danger": ""}))
    assert keepable_fields(blank) is None


def test_kept_forms_are_bounded_per_client_in_total_and_in_time() -> None:
    def form(client: bytes | None, now: int) -> KeptForm:
        return KeptForm("/report", {"text": ("t",)}, None, client, now)

    kept = KeptForms(max_kept=5, per_client=2, kept_for_s=100)
    a = [kept.keep(form(b"a", 0), 0) for _ in range(3)]
    assert len(kept) == 2 and kept.take(a[0], 0) is None  # the client's oldest made way
    others = [kept.keep(form(None, 1), 1) for _ in range(6)]
    assert len(kept) == 5 and kept.take(others[-1], 1) is not None
    assert kept.take(a[2], 100) is None  # expired
    fresh = kept.keep(form(b"b", 150), 150)
    assert kept.take(others[1], 150) is None  # made at 1: expired
    assert kept.take(fresh, 249) is not None
    replaced = kept.keep(form(b"c", 200), 200)
    newer = kept.keep(form(b"c", 201), 201, replaces=replaced)
    assert kept.take(replaced, 201) is None and kept.take(newer, 201) is not None


async def test_kept_form_expires(site: Site) -> None:
    member, token = await stale_report_form(site)
    await send_late(member, token)
    site.node.clock.advance(KEPT_FOR_S)  # type: ignore[attr-defined]
    status, _, resp = await member.login("alice")
    assert status == 303 and resp.headers["Location"] == "/"
    _, html, _ = await member.get("/report")
    assert TYPED not in html


async def test_quick_exit_drops_the_kept_form(site: Site) -> None:
    member, token = await stale_report_form(site)
    await send_late(member, token)
    assert len(site.state.kept) == 1
    status, _, _ = await member.get("/exit")
    assert status == 303 and len(site.state.kept) == 0
    await member.login("alice")
    _, html, _ = await member.get("/report")
    assert TYPED not in html


async def test_quick_exit_after_login_drops_it_too(site: Site) -> None:
    member, token = await stale_report_form(site)
    await send_late(member, token)
    await member.login("alice")
    await member.get("/exit")
    await member.login("alice")
    _, html, _ = await member.get("/report")
    assert TYPED not in html


async def test_another_member_logging_in_does_not_get_it(site: Site) -> None:
    member, token = await stale_report_form(site)
    await (await site.visitor()).signup("bob")
    await send_late(member, token)
    status, _, resp = await member.login("bob")  # someone else on the same phone
    assert status == 303 and resp.headers["Location"] == "/"
    _, html, _ = await member.get("/report")
    assert TYPED not in html
    assert len(site.state.kept) == 0


async def test_after_logout_in_another_tab_the_form_is_kept(site: Site) -> None:
    member = await site.member("alice")
    token = await member.token("/report")
    status, _, _ = await member.post("/logout", {}, page="/check")
    assert status == 303
    status, html, _ = await send_late(member, token)
    assert status == 200 and 'id="kept-notice"' in html
    status, _, resp = await member.login("alice")
    assert resp.headers["Location"] == "/report"
    _, html, _ = await member.get("/report")
    assert TYPED in html


async def test_public_forms_and_wrong_tokens_with_a_session_are_refused_as_before(
    site: Site,
) -> None:
    member = await site.member("alice")
    status, _, resp = await member.post("/report", {**REPORT, "csrf": "wrong"}, headers=SAME_SITE)
    assert status == 403 and KEPT_COOKIE not in resp.cookies  # type: ignore[attr-defined]
    stranger = await site.visitor()
    data = {"nickname": "alice", "passphrase": "x" * 20, "csrf": "stale"}
    status, _, resp = await stranger.post("/login", data, headers=SAME_SITE)
    assert status == 403 and KEPT_COOKIE not in resp.cookies  # type: ignore[attr-defined]
    assert len(site.state.kept) == 0


async def test_a_page_that_is_no_page_keeps_nothing(site: Site) -> None:
    member, token = await stale_report_form(site)
    status, _, _ = await member.post(
        "/reports/1/help", {"text": TYPED, "csrf": token}, headers=SAME_SITE
    )
    assert status == 403 and len(site.state.kept) == 0
