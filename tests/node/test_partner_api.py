"""The partner API (issue 15, point 3) through a real HTTP client against the node's
web app: scopes, revocation, what a check counts, reports and their answers, the
signed webhook, referral codes, and the OpenAPI document."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import nacl.signing
import nacl.utils
from aiohttp import web
from aiohttp.test_utils import TestServer
from openapi_spec_validator import validate

from node.commands.partners import COMMANDS, _add, _list, _revoke
from node.commands.table import parse_args
from node.partners import for_node, sign_payload
from node.service import Draft
from node.web.partner_openapi import openapi_document
from protocol.alert import AlertBody, Indicator, coarsen_hour, sign_alert
from tests.node.test_web_support import Site, Visitor, csrf_of, site_fixture, work_of  # noqa: F401

NATIONAL = "07700 900123"  # GB, as the node's default country reads it
EMAIL = "a@b.example"
ROWS = {c.name: c for c in COMMANDS}


def peer_alert(
    key: nacl.signing.SigningKey, now: int, found: tuple[Indicator, ...], *, partner: bool,
    tlp: str = "GREEN", danger: int = 3,
) -> Any:  # fmt: skip
    made = AlertBody(
        origin=bytes(key.verify_key),
        created=coarsen_hour(now),
        expires=coarsen_hour(now) + 30 * 86400,
        incident=time.strftime("%Y-%m-%d", time.gmtime(now - 86400)),
        region="GB",
        categories=("robbery",),
        danger=danger,
        indicators=found,
        description="peer description",
        lang="en",
        hops=3,
        tlp=tlp,
        nonce=nacl.utils.random(16),
        partner_checks=partner,
    )
    return sign_alert(made, key, now)


async def add_partner(
    site: Site, name: str, scopes: str, webhook: str | None = None
) -> dict[str, Any]:
    args = parse_args(ROWS["partner.add"], {"name": name, "scopes": scopes, "webhook": webhook})
    return await _add(site.node, args)  # type: ignore[arg-type]


async def call(
    v: Visitor, method: str, path: str, token: str | None, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with v.client.request(method, path, json=body, headers=headers) as resp:
        assert resp.content_type == "application/json"
        return resp.status, await resp.json()


async def test_check_counts_own_and_consenting_peers_never_descriptions(site: Site) -> None:
    node, store = site.node, site.store
    service = node.unlocked().alerts
    now = node.clock.now()
    await service.publish(
        Draft(["violence"], 2, "GB", [("phone", NATIONAL)], description="own secret words")
    )
    # Own, but TLP:RED: never reaches a partner.
    await service.publish(Draft(["stalking"], 3, "GB", [("phone", NATIONAL)], tlp="RED", hops=0))
    # Own, TLP:AMBER+STRICT: the organisation only, never its clients.
    await service.publish(
        Draft(["blackmail"], 3, "GB", [("phone", NATIONAL)], tlp="AMBER+STRICT", hops=1)
    )
    found = await service.blind_indicators([("phone", NATIONAL)])
    peer = nacl.signing.SigningKey.generate()
    await store.peers.add(
        bytes(peer.verify_key), "Peer org", ("https://peer.example:7443",), (bytes(32),),
        accept="relay", share=True, proxy=None, now=now,
    )  # fmt: skip
    await node.refresh_peer_names()
    items = [
        (peer_alert(peer, now, found, partner=False), 1, bytes(peer.verify_key)),
        (peer_alert(peer, now, found, partner=True, danger=1), 1, bytes(peer.verify_key)),
    ]
    assert await store.alerts.put_batch(items, now) == [True] * 2
    assert (await service.check("phone", NATIONAL))["matches"] == 5
    token = (await add_partner(site, "Classifieds", "check"))["token"]
    v = await site.visitor()
    status, answer = await call(
        v, "POST", "/partner/v1/check", token,
        {"indicators": [{"kind": "phone", "value": NATIONAL}, {"kind": "email", "value": EMAIL}]},
    )  # fmt: skip
    assert status == 200, answer
    first, second = answer["results"]
    # Own GREEN (danger 2) and the consenting peer's GREEN (danger 1): the peer's alert
    # without partner_checks, the AMBER+STRICT one and the RED one are not counted.
    assert first == {
        "kind": "phone", "value": NATIONAL, "matches": 2, "organisations": 2,
        "max_danger": 2, "categories": ["robbery", "violence"], "recommendation": None,
    }  # fmt: skip
    assert second["matches"] == 0
    text = json.dumps(answer)
    assert "secret words" not in text and "peer description" not in text
    audit = json.dumps(await store.audit.list())
    assert "partner check" in audit and NATIONAL not in audit and "+447700900123" not in audit


async def test_peer_alert_without_partner_checks_is_not_counted(site: Site) -> None:
    node, store = site.node, site.store
    service = node.unlocked().alerts
    now = node.clock.now()
    found = await service.blind_indicators([("phone", NATIONAL)])
    peer = nacl.signing.SigningKey.generate()
    await store.peers.add(
        bytes(peer.verify_key), "Peer org", ("https://peer.example:7443",), (bytes(32),),
        accept="relay", share=True, proxy=None, now=now,
    )  # fmt: skip
    await node.refresh_peer_names()
    item = (peer_alert(peer, now, found, partner=False), 1, bytes(peer.verify_key))
    assert await store.alerts.put_batch([item], now) == [True]
    token = (await add_partner(site, "P", "check"))["token"]
    status, answer = await call(
        await site.visitor(), "POST", "/partner/v1/check", token,
        {"indicators": [{"kind": "phone", "value": NATIONAL}]},
    )  # fmt: skip
    assert status == 200
    assert answer["results"][0]["matches"] == 0
    assert answer["results"][0]["max_danger"] == 0


async def test_tokens_scopes_and_revocation(site: Site) -> None:
    v = await site.visitor()
    check_only = await add_partner(site, "Check only", "check")
    report = {"account": {"phone": NATIONAL}, "description": "x", "consent": True}
    status, answer = await call(v, "POST", "/partner/v1/reports", check_only["token"], report)
    assert (status, answer["error"]["code"]) == (403, "forbidden")
    status, answer = await call(
        v, "POST", "/partner/v1/referrals", check_only["token"], {"count": 1}
    )
    assert status == 403
    status, answer = await call(
        v, "POST", "/partner/v1/check", "anp_not-a-token", {"indicators": []}
    )
    assert (status, answer["error"]["code"]) == (401, "unauthorized")
    status, _ = await call(v, "POST", "/partner/v1/check", None, {"indicators": []})
    assert status == 401
    body = {"indicators": [{"kind": "phone", "value": NATIONAL}]}
    assert (await call(v, "POST", "/partner/v1/check", check_only["token"], body))[0] == 200
    listed = await _list(site.node, parse_args(ROWS["partner.list"], {}))  # type: ignore[arg-type]
    assert [(p["name"], p["scopes"]) for p in listed["partners"]] == [("Check only", ["check"])]
    assert check_only["token"] not in json.dumps(listed)
    await _revoke(site.node, parse_args(ROWS["partner.revoke"], {"partner": "check only"}))  # type: ignore[arg-type]
    status, answer = await call(v, "POST", "/partner/v1/check", check_only["token"], body)
    assert (status, answer["error"]["code"]) == (401, "unauthorized")
    # The token is kept only as a keyed tag.
    rows = await site.store.db.fetchall("SELECT * FROM partners")
    assert all(check_only["token"].encode() not in bytes(str(tuple(r)), "utf-8") for r in rows)


async def test_report_needs_consent_and_comes_back_answered_by_webhook(site: Site) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        added = await add_partner(
            site, "Reporter", "check,report", webhook=str(server.make_url("/hook"))
        )
        token, secret = added["token"], added["webhook_secret"]
        v = await site.visitor()
        no_consent = {"account": {"phone": NATIONAL}, "description": "he threatened"}
        status, answer = await call(v, "POST", "/partner/v1/reports", token, no_consent)
        assert (status, answer["error"]["code"]) == (400, "consent_required")
        status, answer = await call(
            v, "POST", "/partner/v1/reports", token, {**no_consent, "consent": True}
        )
        assert status == 201
        ref = answer["id"]
        status, answer = await call(v, "GET", f"/partner/v1/reports/{ref}", token)
        assert answer == {"id": ref, "status": "received", "recommendation": None}
        other = await add_partner(site, "Other", "report")
        status, _ = await call(v, "GET", f"/partner/v1/reports/{ref}", other["token"])
        assert status == 404
        # The caseworker answers (node/web/partner_pages.py does this from a form).
        (report,) = await site.store.partners.reports()
        service = for_node(site.node.unlocked(), site.node.clock)
        assert await service.answer(report.id, "remove", "Remove the account.") is True
        status, answer = await call(v, "GET", f"/partner/v1/reports/{ref}", token)
        recommendation = {"action": "remove", "note": "Remove the account."}
        assert answer == {"id": ref, "status": "answered", "recommendation": recommendation}
        ((headers, body),) = received
        ts = headers["X-Alertnode-Timestamp"]
        assert headers["X-Alertnode-Signature"] == sign_payload(secret.encode(), int(ts), body)
        expected = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        assert headers["X-Alertnode-Signature"] == "v1=" + expected
        assert json.loads(body) == answer
        # The recommendation now comes with a check of that account.
        status, answer = await call(
            v, "POST", "/partner/v1/check", token,
            {"indicators": [{"kind": "phone", "value": "+44 7700 900123"}]},
        )  # fmt: skip
        assert answer["results"][0]["recommendation"] == recommendation
    finally:
        await server.close()


async def test_referral_codes_open_membership_requests(site: Site) -> None:
    token = (await add_partner(site, "Referrer", "referral"))["token"]
    v = await site.visitor()
    status, answer = await call(v, "POST", "/partner/v1/referrals", token, {"count": 3})
    assert status == 200 and len(answer["codes"]) == 3
    status, _ = await call(v, "POST", "/partner/v1/referrals", token, {"count": 101})
    assert status == 400
    code = answer["codes"][0]
    store, now = site.store, site.node.clock.now()
    await store.partners.request_membership(code, {"nickname": "newcomer"}, now)
    counts = await store.partners.referral_counts()
    assert list(counts.values()) == [{"unused": 2, "waiting": 1, "joined": 0}]


def test_openapi_document_is_valid_and_lists_every_route() -> None:
    document = openapi_document()
    validate(document)
    assert set(document["paths"]) == {
        "/check", "/reports", "/reports/{id}", "/complaints", "/referrals",
    }  # fmt: skip
    from aiohttp import web as aioweb

    from node.web.partner_api import PREFIX, add_routes

    app = aioweb.Application()
    add_routes(app.router)
    served = {
        r.resource.canonical.removeprefix(PREFIX[:-1])
        for r in app.router.routes()
        if r.resource is not None and "{tail" not in r.resource.canonical
    }
    assert served - {"/openapi.json"} == set(document["paths"])


async def test_openapi_is_served_and_errors_are_json(site: Site) -> None:
    v = await site.visitor()
    async with v.client.get("/partner/v1/openapi.json") as resp:
        assert resp.status == 200
        validate(await resp.json())
    status, answer = await call(v, "GET", "/partner/v1/nothing-here", "x")
    assert status == 404 and set(answer["error"]) == {"code", "message"}


async def test_caseworker_answers_on_the_page_and_passes_on_a_complaint(site: Site) -> None:
    token = (await add_partner(site, "Ads site", "report"))["token"]
    v = await site.visitor()
    report = {"account": {"handle": "ads:badguy"}, "description": "asked for", "consent": True}
    status, answer = await call(v, "POST", "/partner/v1/reports", token, report)
    ref = answer["id"]
    caseworker = await site.member("worker", role="caseworker")
    status, html, _ = await caseworker.get("/review")
    assert "1 report from partner platforms is waiting." in html
    (stored,) = await site.store.partners.reports()
    status, html, _ = await caseworker.get(f"/review/partners/{stored.id}")
    assert status == 200 and "ads:badguy" in html
    status, answer = await call(v, "GET", f"/partner/v1/reports/{ref}", token)
    assert answer["status"] == "reviewing"
    status, html, _ = await caseworker.post(
        f"/review/partners/{stored.id}", {"action": "warn", "note": "Warn them."}
    )
    assert status == 303, html
    status, answer = await call(v, "GET", f"/partner/v1/reports/{ref}", token)
    assert answer["recommendation"] == {"action": "warn", "note": "Warn them."}
    status, html, _ = await caseworker.get(f"/review/partners/{stored.id}")
    assert "Answered: Warn the account holder." in html and "Answered: warn." not in html
    member = await site.member("complainer")
    status, _, _ = await member.get("/review/partners")
    assert status == 403
    status, html, _ = await caseworker.post(
        "/review/partners/complaint",
        {"partner": str(stored.partner_id), "text": "Your moderators ignored threats."},
        page="/review/partners",
    )
    assert status == 303, html
    status, answer = await call(v, "GET", "/partner/v1/complaints", token)
    assert [c["text"] for c in answer["complaints"]] == ["Your moderators ignored threats."]
    assert "complainer" not in json.dumps(answer)
    audit = json.dumps(await site.store.audit.list())
    assert "partner answer" in audit and "partner complaint" in audit
    assert "badguy" not in audit and "ignored threats" not in audit


async def test_referral_code_opens_a_request_the_admin_approves(site: Site) -> None:
    token = (await add_partner(site, "Referrer", "referral"))["token"]
    v = await site.visitor()
    status, answer = await call(v, "POST", "/partner/v1/referrals", token, {"count": 1})
    (code,) = answer["codes"]
    newcomer = await site.visitor()
    status, html, _ = await newcomer.get("/join")
    assert status == 200
    form = {
        "code": code,
        "nickname": "newcomer",
        "passphrase": "correct horse battery",
        "passphrase2": "correct horse battery",
        "csrf": csrf_of(html),
        **work_of(html),
    }
    status, html, _ = await newcomer.post("/join", form)
    assert status == 200 and "Your request is sent." in html, html
    # No member yet: the code alone makes none.
    status, _, _ = await newcomer.login("newcomer", "correct horse battery")
    assert status != 303
    # The same code again is spent.
    status, html, _ = await newcomer.get("/join")
    again = {**form, "csrf": csrf_of(html), **work_of(html)}
    status, html, _ = await newcomer.post("/join", again)
    assert status == 400
    admin = await site.member("boss", role="admin")
    status, html, _ = await admin.get("/admin/requests")
    assert "newcomer asked on" in html and "Referrer" in html
    ((request_id, _, _),) = await site.store.partners.membership_requests()
    status, html, _ = await admin.post(
        f"/admin/requests/{request_id}", {"decision": "approve"}, page="/admin/requests"
    )
    assert status == 303, html
    status, _, _ = await (await site.visitor()).login("newcomer", "correct horse battery")
    assert status == 303
    counts = await site.store.partners.referral_counts()
    assert list(counts.values()) == [{"unused": 0, "waiting": 0, "joined": 1}]


async def test_retention_purges_partner_reports_and_spent_codes(site: Site) -> None:
    token = (await add_partner(site, "Old", "report,referral"))["token"]
    v = await site.visitor()
    report = {"account": {"email": EMAIL}, "description": "x", "consent": True}
    assert (await call(v, "POST", "/partner/v1/reports", token, report))[0] == 201
    assert (await call(v, "POST", "/partner/v1/referrals", token, {"count": 2}))[0] == 200
    days = int(site.node.unlocked().settings["report_retention_days"])
    site.node.clock.advance((days + 2) * 86400)  # type: ignore[attr-defined]
    result = await site.node.run_retention()
    assert result["partner_records"] == 3
    assert await site.store.partners.reports() == []


async def test_calls_and_indicators_are_limited_per_partner(site: Site) -> None:
    limits = site.state.limits
    limits.partner_indicators.limit = 5
    limits.partner_calls.limit = 4
    token = (await add_partner(site, "Busy", "check"))["token"]
    other = (await add_partner(site, "Calm", "check"))["token"]
    v = await site.visitor()
    three = {"indicators": [{"kind": "email", "value": f"x{n}@b.example"} for n in range(3)]}
    assert (await call(v, "POST", "/partner/v1/check", token, three))[0] == 200
    status, answer = await call(v, "POST", "/partner/v1/check", token, three)
    assert (status, answer["error"]["code"]) == (429, "rate_limited")
    one = {"indicators": [{"kind": "email", "value": "y@b.example"}]}
    assert (await call(v, "POST", "/partner/v1/check", token, one))[0] == 200
    assert (await call(v, "POST", "/partner/v1/check", token, one))[0] == 200  # 5 of 5
    # A fifth call this minute: refused whatever it holds.
    status, answer = await call(v, "POST", "/partner/v1/check", token, one)
    assert (status, answer["error"]["code"]) == (429, "rate_limited")
    assert (await call(v, "POST", "/partner/v1/check", other, one))[0] == 200


async def test_member_report_about_a_platform_reaches_the_caseworker(site: Site) -> None:
    await add_partner(site, "Ads site", "report")
    member = await site.member("reporter")
    status, html, _ = await member.get("/report")
    assert "Is this also about how a platform you advertise on behaved?" in html
    status, html, _ = await member.post(
        "/report",
        {
            "categories": "non-payment",
            "incident": time.strftime("%Y-%m-%d", time.gmtime(site.node.clock.now())),
            "region": "GB-LND",
            "danger": "1",
            "text": "The site let him keep messaging after I reported him.",
            "share": "no",
            "platform": "Ads site",
        },
    )
    assert status == 303, html
    (report,) = await site.store.reports.list()
    assert report.content["platform"] == "Ads site"
    caseworker = await site.member("worker", role="caseworker")
    status, html, _ = await caseworker.get(f"/review/{report.id}")
    assert status == 200 and "Also about a platform&#39;s conduct" in html
