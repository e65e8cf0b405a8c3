"""Every form's bad input: missing fields, wrong types, oversized text, invalid CSRF.
Each shows a clear message on the page and stores nothing."""

from __future__ import annotations

import datetime
from typing import Any

import aiohttp
import pytest

from tests.node.test_web_support import PASSPHRASE, Site, Visitor, site_fixture  # noqa: F401

INCIDENT = (datetime.date.today() - datetime.timedelta(days=3)).isoformat()

GOOD_REPORT = {
    "categories": "violence",
    "incident": INCIDENT,
    "region": "GB-LND",
    "danger": "2",
    "phone": "+447700900123",
    "text": "He refused to pay.",
    "share": "node",
}
GOOD_ALERT = {
    "categories": "violence",
    "danger": "2",
    "region": "GB-LND",
    "incident": INCIDENT,
    "description": "Refused to pay.",
    "lang": "en",
    "hops": "1",
    "tlp": "GREEN",
    "expires_days": "30",
    "action": "publish",
}
REQUIRED = "This is required."
CHOOSE = "Choose one of the options."


async def snapshot(site: Site) -> dict[str, Any]:
    store = site.store
    now = site.node.clock.now()
    return {
        "members": [(m.id, m.role) for m in await store.members.list()],
        "invites": len(await store.members.list_invites(now)),
        "reports": [(r.id, r.status) for r in await store.reports.list()],
        "alerts": await site.node.unlocked().alerts.list(),
        "audit": await store.audit.list(),
        "settings": await store.settings.all(),
    }


# (who, form path, page holding the form, good fields, bad fields, expected message)
CASES: list[tuple[str, str, str, dict[str, str], dict[str, str], str]] = [
    ("anon", "/signup", "/signup", {}, {"invite": ""}, REQUIRED),
    ("anon", "/signup", "/signup", {}, {"nickname": "a b c"}, "A nickname has no spaces."),
    ("anon", "/signup", "/signup", {}, {"nickname": "x" * 40}, "3 to 32 characters"),
    ("anon", "/signup", "/signup", {}, {"passphrase": "short"}, "at least 10 characters"),
    ("anon", "/signup", "/signup", {}, {"passphrase2": "different!!"}, "passphrases differ"),
    ("anon", "/signup", "/signup", {}, {"invite": "AAAA-BBBB"}, "not valid or has expired"),
    ("anon", "/login", "/login", {}, {"nickname": ""}, REQUIRED),
    ("anon", "/login", "/login", {}, {"passphrase": ""}, REQUIRED),
    ("member", "/check", "/check", {"kind": "phone", "value": "1"}, {"kind": ""}, CHOOSE),
    ("member", "/check", "/check", {"kind": "phone", "value": "1"}, {"kind": "dna"}, "shown"),
    ("member", "/check", "/check", {"kind": "phone"}, {"value": ""}, REQUIRED),
    ("member", "/check", "/check", {"kind": "phone"}, {"value": "not a number"}, "phone number"),
    ("member", "/check", "/check", {"kind": "email"}, {"value": "nobody"}, "e-mail address"),
    ("member", "/check", "/check", {"kind": "handle"}, {"value": "bob"}, "platform:name"),
    ("member", "/check", "/check", {"kind": "plate"}, {"value": "!"}, "number plate"),
    ("member", "/check", "/check", {"kind": "phone"}, {"value": "1" * 300}, "too long"),
    ("member", "/report", "/report", GOOD_REPORT, {"categories": ""}, "Choose only from"),
    ("member", "/report", "/report", GOOD_REPORT, {"incident": ""}, REQUIRED),
    ("member", "/report", "/report", GOOD_REPORT, {"incident": "yesterday"}, "2024-05-31"),
    ("member", "/report", "/report", GOOD_REPORT, {"incident": "2099-01-01"}, "in the future"),
    ("member", "/report", "/report", GOOD_REPORT, {"region": "Main Street 5"}, "options shown"),
    ("member", "/report", "/report", GOOD_REPORT, {"danger": "9"}, "options shown"),
    ("member", "/report", "/report", GOOD_REPORT, {"phone": "call me"}, "phone number"),
    ("member", "/report", "/report", GOOD_REPORT, {"text": ""}, REQUIRED),
    ("member", "/report", "/report", GOOD_REPORT, {"text": "x" * 4001}, "at most 4000"),
    ("member", "/report", "/report", GOOD_REPORT, {"text": "bell\x07"}, "control characters"),
    ("member", "/report", "/report", GOOD_REPORT, {"share": "everyone"}, "options shown"),
    ("member", "/account/passphrase", "/account", {"current": PASSPHRASE}, {"new": ""}, REQUIRED),
    (
        "member",
        "/account/passphrase",
        "/account",
        {"current": PASSPHRASE, "new": "new passphrase 1"},
        {"new2": "new passphrase 2"},
        "passphrases differ",
    ),
    ("member", "/account/delete", "/account", {"passphrase": PASSPHRASE}, {}, "Tick the box"),
    (
        "member",
        "/account/delete",
        "/account",
        {"confirm": "yes"},
        {"passphrase": "not mine at all"},
        "not your current passphrase",
    ),
    ("caseworker", "/review/new", "/review/new", GOOD_ALERT, {"categories": ""}, "Choose only"),
    ("caseworker", "/review/new", "/review/new", GOOD_ALERT, {"danger": ""}, CHOOSE),
    ("caseworker", "/review/new", "/review/new", GOOD_ALERT, {"hops": "many"}, "whole number"),
    ("caseworker", "/review/new", "/review/new", GOOD_ALERT, {"hops": "7"}, "from 0 to 6"),
    ("caseworker", "/review/new", "/review/new", GOOD_ALERT, {"tlp": "PURPLE"}, "options shown"),
    ("caseworker", "/review/new", "/review/new", GOOD_ALERT, {"expires_days": "0"}, "1 to 365"),
    ("caseworker", "/review/new", "/review/new", GOOD_ALERT, {"description": "x" * 2001}, "2000"),
    (
        "caseworker",
        "/review/new",
        "/review/new",
        GOOD_ALERT,
        {"phone": "+447700900123\nnope"},
        "Line 2",
    ),
    ("admin", "/admin/invites", "/admin/members", {"role": "member"}, {"days": "0"}, "1 to 365"),
    ("admin", "/admin/invites", "/admin/members", {"days": "3"}, {"role": "king"}, "options"),
    ("admin", "/admin/settings", "/admin/settings", {}, {"alert_hops": "99"}, "from 0 to 6"),
    ("admin", "/admin/settings", "/admin/settings", {}, {"regions": "Paris!"}, "region code"),
    ("admin", "/admin/settings", "/admin/settings", {}, {"phone_region": "FRA"}, "two-letter"),
]
GOOD_SETTINGS = {
    "regions": "GB-LND GB-MAN",
    "phone_region": "GB",
    "report_retention_days": "90",
    "audit_retention_days": "365",
    "alert_expiry_days": "90",
    "alert_hops": "2",
    "invite_expiry_days": "14",
    "session_idle_minutes": "30",
    "checks_per_hour": "60",
}


async def visitor_for(site: Site, who: str) -> Visitor:
    if who == "anon":
        return await site.visitor()
    return await site.member(f"{who}-1", who)


def base_fields(site: Site, path: str, good: dict[str, str]) -> dict[str, str]:
    if path == "/signup":
        return {
            "invite": "",
            "nickname": "newbie",
            "passphrase": PASSPHRASE,
            "passphrase2": PASSPHRASE,
            **good,
        }
    if path == "/login":
        return {"nickname": "someone", "passphrase": PASSPHRASE, **good}
    if path == "/admin/settings":
        return {**GOOD_SETTINGS, **good}
    return dict(good)


@pytest.mark.parametrize(("who", "path", "page", "good", "bad", "message"), CASES)
async def test_bad_input_is_explained_and_nothing_is_stored(
    site: Site,
    who: str,
    path: str,
    page: str,
    good: dict[str, str],
    bad: dict[str, str],
    message: str,
) -> None:
    v = await visitor_for(site, who)
    fields = base_fields(site, path, good)
    if path == "/signup" and "invite" not in bad:
        fields["invite"] = await site.invite()
    fields.update(bad)
    before = await snapshot(site)
    status, html, _ = await v.post(path, fields, page=page)
    assert status in (400, 401), (status, html)
    assert message in html, html
    assert "Please correct the marked fields." in html or 'class="notice error"' in html
    assert PASSPHRASE not in html  # passphrases are never echoed
    assert await snapshot(site) == before


@pytest.mark.parametrize("path", ["/report", "/check", "/signup", "/login", "/account/delete"])
async def test_missing_every_field(site: Site, path: str) -> None:
    v = await site.member("member-1")
    before = await snapshot(site)
    status, html, _ = await v.post(path, {}, page="/account" if "account" in path else path)
    assert status == 400
    assert REQUIRED in html or CHOOSE in html or "Tick the box" in html
    assert await snapshot(site) == before


@pytest.mark.parametrize(
    "path",
    [
        "/report",
        "/check",
        "/signup",
        "/login",
        "/account/passphrase",
        "/admin/invites",
        "/admin/settings",
        "/review/new",
        "/logout",
        "/account/delete",
    ],
)
@pytest.mark.parametrize("token", ["", "forged", None])
async def test_invalid_csrf_token_is_refused(site: Site, path: str, token: str | None) -> None:
    v = await site.member("admin-1", "admin")
    before = await snapshot(site)
    data: dict[str, str] = {**GOOD_REPORT, **GOOD_SETTINGS, "role": "member", "days": "3"}
    if token is not None:
        data["csrf"] = token
    async with v.client.post(path, data=data, allow_redirects=False) as resp:
        html = await resp.text()
    assert resp.status == 403
    assert "This form has expired or did not come from this site" in html
    assert await snapshot(site) == before
    status, _, _ = await v.get("/check")
    assert status == 200  # still logged in: a refused logout changed nothing


async def test_token_of_another_session_is_refused(site: Site) -> None:
    alice = await site.member("alice")
    bob = await site.member("bobby")
    token = await bob.token("/report")
    status, _, _ = await alice.post("/report", {**GOOD_REPORT}, csrf=token)
    assert status == 403
    assert await site.store.reports.list() == []


async def test_file_instead_of_text(site: Site) -> None:
    v = await site.member("alice")
    form = aiohttp.FormData()
    for key, value in GOOD_REPORT.items():
        if key != "text":
            form.add_field(key, value)
    form.add_field("csrf", await v.token("/report"))
    form.add_field("text", b"payload", filename="evil.html", content_type="text/html")
    status, html, _ = await v.post("/report", form)
    assert status == 400 and "This field takes text, not a file." in html
    assert await site.store.reports.list() == []


async def test_repeated_field_and_oversized_body(site: Site) -> None:
    v = await site.member("alice")
    token = await v.token("/check")
    data = [("csrf", token), ("kind", "phone"), ("kind", "email"), ("value", "+447700900123")]
    status, html, _ = await v.post("/check", data)
    assert status == 400 and "This field was sent more than once." in html
    status, html, _ = await v.post("/report", {**GOOD_REPORT, "text": "é" * 40_000})
    assert status == 413 and "That form was too large" in html
    assert await site.store.reports.list() == []


async def test_messages_in_the_readers_language(site: Site) -> None:
    v = await site.member("alice")
    await v.switch_language("fr")
    status, html, _ = await v.post("/report", {**GOOD_REPORT, "text": ""})
    assert status == 400
    assert "Veuillez corriger les champs signalés." in html and "Ce champ est obligatoire." in html
