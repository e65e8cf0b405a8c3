"""Red-team replays against the surfaces of issue 15 (partner API, SMS webhooks,
notifications): each test sends what an attacker would and asserts the node's answer.
Each failed before its fix (the branch's commits say which)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import node.partners
from node.notify import channels
from node.notify.errors import NotifyError
from node.service import Draft
from node.web.sms_hooks import twilio_signature
from tests.node.test_partner_api import NATIONAL, add_partner, call
from tests.node.test_sms_check import MEMBER_E164, opt_in
from tests.node.test_web_support import Site, Visitor, csrf_of, site_fixture  # noqa: F401

PARTNER_PATHS = ("/partner/v1/check", "/partner/v1/reports", "/partner/v1/referrals")


async def raw_call(v: Visitor, path: str, token: str, data: bytes) -> tuple[int, str, str]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with v.client.post(path, data=data, headers=headers) as resp:
        return resp.status, resp.content_type, await resp.text()


async def test_deeply_nested_json_is_a_json_error_not_a_crash(site: Site) -> None:
    """64 KiB of '[' is within the size cap but past the JSON decoder's recursion
    limit: RecursionError escaped the API's error mapping, so the partner got the
    HTML 500 page and the log a traceback."""
    token = (await add_partner(site, "Classifieds", "check,report,referral"))["token"]
    v = await site.visitor()
    for path in PARTNER_PATHS:
        status, ctype, text = await raw_call(v, path, token, b"[" * 50_000)
        assert (status, ctype) == (400, "application/json"), (path, status, text[:80])
        assert "invalid_json" in text
        # Still serving afterwards.
        status, ctype, _ = await raw_call(v, path, token, b"{}")
        assert status == 400 and ctype == "application/json"


async def test_lone_surrogate_in_a_report_cannot_break_the_review_page(site: Site) -> None:
    """JSON may carry a lone surrogate ("\\udc00"), which no page can encode as UTF-8:
    one partner report holding one made /review/partners a 500 for every caseworker."""
    token = (await add_partner(site, "Classifieds", "report"))["token"]
    v = await site.visitor()
    body = (
        b'{"consent": true, "account": {"phone": "' + NATIONAL.encode() + b'"},'
        b' "description": "bad \\udc00 words"}'
    )
    status, _, text = await raw_call(v, "/partner/v1/reports", token, body)
    assert status in (201, 400), text
    caseworker = await site.member("worker", role="caseworker")
    status, _, _ = await caseworker.get("/review/partners")
    assert status == 200
    for report in await site.store.partners.reports():
        status, _, _ = await caseworker.get(f"/review/partners/{report.id}")
        assert status == 200
    status, answer = await call(
        v, "POST", "/partner/v1/reports", token,
        {"consent": True, "account": {"phone": NATIONAL}, "description": "plain words"},
    )  # fmt: skip
    assert status == 201, answer


# --- notifications: a member's address must stay one recipient ---------------------------

INJECTED_ADDRESSES = [
    ("ntfys://ntfy.example.org", "her-topic,someone-else"),
    ("ntfys://ntfy.example.org", "her-topic;someone-else"),
    ("ntfys://ntfy.example.org", "her-topic[someone-else]"),
    ("ntfys://ntfy.example.org", ".."),
    ("tgram://123456:ABCDEF", "11111,22222"),
    ("signal://127.0.0.1:8080/+447700900001", "+447700900002/+447700900003"),
    ("signal://127.0.0.1:8080/+447700900001", "+447700900002\\+447700900003"),
    ("matrixs://bot:pw@matrix.example.org", "#a:example.org,#b:example.org"),
    ("mailtos://n:pw@mail.example.org", "her@example.net,bulk@example.com"),
    ("mailtos://n:pw@mail.example.org", "her@example.net?to=bulk@example.com"),
    ("mailtos://n:pw@mail.example.org", "her@example.net%2Cbulk@example.com"),
]


@pytest.mark.parametrize(("url", "address"), INJECTED_ADDRESSES)
def test_an_address_cannot_name_more_or_other_recipients(url: str, address: str) -> None:
    """Apprise splits a recipient on , ; [ ] (and / \\ between path segments) after
    unquoting: "11111,22222" made the organisation's Telegram bot message two chats,
    "+447700900002/+447700900003" sent her alerts to the second number."""
    with pytest.raises(NotifyError) as caught:
        channels.join_recipient(url, address)
    assert caught.value.code == "bad_address"


@pytest.mark.parametrize(
    ("url", "address", "target"),
    [
        ("ntfys://ntfy.example.org", "her-topic_1", "her-topic_1"),
        ("matrixs://bot:pw@matrix.example.org", "#room:example.org", "#room:example.org"),
        ("signal://127.0.0.1:8080/+447700900001", "+447700900002", "+447700900002"),
        ("tgram://123456:ABCDEF", "-1001234", None),
    ],
)
def test_ordinary_addresses_still_reach_exactly_one_recipient(
    url: str, address: str, target: str | None
) -> None:
    apprise = channels.load_apprise()
    sender = apprise.Apprise()
    assert sender.add(channels.join_recipient(url, address))
    assert len(sender[0]) == 1
    if target is not None:
        found = [getattr(sender[0], a, None) for a in ("targets", "topics", "rooms")]
        assert [target] in [list(f) for f in found if f is not None]


async def test_subscription_form_refuses_an_address_list(site: Site) -> None:
    await site.node.unlocked().store.notify.add_channel("ping", "ntfys", "ntfys://ntfy.example.org")
    her = await site.member("subscriber")
    status, html, _ = await her.get("/account/notifications")
    form = {
        "csrf": csrf_of(html), "channel": "ping", "address": "mine,yours",
        "min_danger": "1", "mode": "immediate", "lang": "en",
    }  # fmt: skip
    status, html, _ = await her.post("/account/notifications", form)
    assert status == 400 and "without commas" in html
    assert await site.node.unlocked().store.notify.all_subscriptions() == []


# --- SMS: Twilio's signature does not separate names from values --------------------------


async def test_twilio_replay_by_moving_the_name_value_boundary_is_refused(site: Site) -> None:
    """Twilio signs URL + name1 + value1 + name2 + value2... with nothing between them, so
    ("MessageSi", "dSM0001") signs exactly as ("MessageSid", "SM0001"). A captured
    webhook re-sent with that split had no MessageSid, so its replay memory keyed a new
    entry and the node answered the same text a second time (another text sent at the
    organisation's cost, and the answer back to whoever replayed it)."""
    await site.node.unlocked().alerts.publish(
        Draft(["violence"], 3, "GB", [("phone", "+447700900123")], description="words")
    )
    token = "twilio-auth-token-0123456789"
    url = "https://node.example/sms/v1/twilio"
    await site.store.sms.set_gateway("twilio", token, "", url)
    await opt_in(site, "texter")
    v = await site.visitor()
    params = [
        ("AccountSid", "AC0000"), ("Body", "CHECK 07700 900123"), ("From", MEMBER_E164),
        ("MessageSid", "SM0001"), ("SmsSid", "SM0001"), ("To", "+447700900999"),
    ]  # fmt: skip
    headers = {
        "X-Twilio-Signature": twilio_signature(token.encode(), url, params),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    async with v.client.post("/sms/v1/twilio", data=urlencode(params), headers=headers) as resp:
        assert resp.status == 200 and "<Message>" in await resp.text()
    moved = [
        ("AccountSid", "AC0000"), ("Body", "CHECK 07700 900123"), ("From", MEMBER_E164),
        ("MessageSi", "dSM0001"), ("SmsSi", "dSM0001"), ("To", "+447700900999"),
    ]  # fmt: skip
    assert twilio_signature(token.encode(), url, moved) == headers["X-Twilio-Signature"]
    async with v.client.post("/sms/v1/twilio", data=urlencode(moved), headers=headers) as resp:
        assert resp.status == 401
        assert "<Message>" not in await resp.text()


# --- partner API: what one token can make the node keep ----------------------------------

MAX_OPEN_REFERRALS = 1000  # docs/partners.md (node.partners.MAX_OPEN_REFERRALS)


async def test_referral_codes_a_partner_holds_open_are_bounded(site: Site) -> None:
    """Codes were made 100 a call, 120 calls a minute, without end: a leaked or hostile
    token grew referral_codes (and, through /join, membership_requests) without bound."""
    token = (await add_partner(site, "Referrer", "referral"))["token"]
    v = await site.visitor()
    for _ in range(MAX_OPEN_REFERRALS // 100):
        status, answer = await call(v, "POST", "/partner/v1/referrals", token, {"count": 100})
        assert status == 200, answer
    status, answer = await call(v, "POST", "/partner/v1/referrals", token, {"count": 1})
    assert status == 429 and answer["error"]["code"] == "too_many_open"
    counts = await site.store.partners.referral_counts()
    assert [c["unused"] for c in counts.values()] == [MAX_OPEN_REFERRALS]
    # Another partner is not held back by this one.
    other = (await add_partner(site, "Other", "referral"))["token"]
    assert (await call(v, "POST", "/partner/v1/referrals", other, {"count": 1}))[0] == 200


async def test_reports_a_partner_can_make_the_node_keep_are_bounded(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reports of up to 4,000 characters, 120 a minute, were kept without end until
    retention: 170,000 sealed rows a day in the caseworkers' queue from one token."""
    monkeypatch.setattr(node.partners, "MAX_KEPT_REPORTS", 3)  # the real bound is 2,000
    token = (await add_partner(site, "Classifieds", "report"))["token"]
    v = await site.visitor()
    body = {"consent": True, "account": {"phone": NATIONAL}, "description": "x" * 4000}
    for _ in range(3):
        assert (await call(v, "POST", "/partner/v1/reports", token, body))[0] == 201
    status, answer = await call(v, "POST", "/partner/v1/reports", token, body)
    assert status == 429 and answer["error"]["code"] == "too_many_open"
    assert len(await site.store.partners.reports()) == 3
    # A caseworker's complaint to the platform is never refused by the partner's bound.
    (partner,) = await site.store.partners.active()
    await node.partners.for_node(site.node.unlocked(), site.node.clock).complaint(
        partner.id, "words"
    )


# --- vouching: the monthly allowance under parallel requests -----------------------------


async def test_parallel_invite_posts_cannot_pass_the_monthly_allowance(site: Site) -> None:
    """Ten POSTs at once from one member with an allowance of 2: the check and the count
    share one serialised transaction (node/store/vouches.py), so exactly 2 succeed.
    (Tried as an attack; it held before this branch. Kept as a guard.)"""
    site.node.unlocked().settings.set("member_invites_per_month", 2)
    alice = await site.member("alice")
    token = await alice.token("/invite")
    results = await asyncio.gather(
        *(alice.post("/invite", {}, page="/invite", csrf=token) for _ in range(10))
    )
    assert sorted(status for status, _, _ in results) == [303, 303] + [403] * 8
    assert (await site.store.vouches.totals(site.node.clock.now()))["created"] == 2


# --- partner webhooks: the node never follows a redirect ---------------------------------


async def test_partner_webhook_redirect_is_not_followed() -> None:
    """A partner's webhook that answers 302 towards an internal address must not make
    the node post the signed recommendation there (or anywhere else). Loopback only."""
    hits: list[str] = []

    async def first(request: web.Request) -> web.Response:
        hits.append("first")
        raise web.HTTPFound("/internal")

    async def internal(request: web.Request) -> web.Response:
        hits.append("internal")
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", first)
    app.router.add_route("*", "/internal", internal)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        status = await node.partners.post_json(
            str(server.make_url("/hook")), b"{}", {"Content-Type": "application/json"}
        )
    finally:
        await server.close()
    assert status == 302 and hits == ["first"]
