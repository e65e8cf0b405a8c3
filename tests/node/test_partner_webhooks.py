"""Issue 15's gaps in the partner API and SMS routes: the recommendation webhook goes
through a durable queue with retries and backoff (not one try); ``status`` counts
partners and SMS gateways without a token, a name or a number; a locked node answers
the partner API and every SMS webhook with a JSON 503."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from node.partners import MAX_WEBHOOK_ATTEMPTS, for_node, sign_payload
from node.web import web_app
from tests.node.test_notify import member
from tests.node.test_partner_api import NATIONAL, add_partner, call
from tests.node.test_web_host import FakeHost
from tests.node.test_web_support import Site, site_fixture  # noqa: F401


class Hook:
    """A partner's webhook endpoint that fails ``fail`` times, then records calls."""

    def __init__(self) -> None:
        self.fail = 0
        self.calls = 0
        self.got: list[tuple[dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        body = await request.read()
        if self.fail:
            self.fail -= 1
            return web.Response(status=500)
        self.got.append((dict(request.headers), body))
        return web.Response(status=204)


@pytest.fixture(name="hook")
async def hook_fixture() -> AsyncIterator[tuple[Hook, str]]:
    hook = Hook()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield hook, str(server.make_url("/hook"))
    finally:
        await server.close()


async def _answered_report(site: Site, url: str) -> tuple[dict[str, Any], int]:
    added = await add_partner(site, "Hooked", "report", webhook=url)
    v = await site.visitor()
    body = {"account": {"phone": NATIONAL}, "description": "he threatened", "consent": True}
    status, _ = await call(v, "POST", "/partner/v1/reports", added["token"], body)
    assert status == 201
    (report,) = await site.store.partners.reports()
    return added, report.id


async def test_a_failing_webhook_is_retried_with_backoff_until_it_takes_it(
    site: Site, hook: tuple[Hook, str]
) -> None:
    endpoint, url = hook
    added, report_id = await _answered_report(site, url)
    endpoint.fail = 2
    service = for_node(site.node.unlocked(), site.node.clock)
    # The first try happens at once and fails: the call stays queued (it used to be lost).
    assert await service.answer(report_id, "warn", "Warn the advertisers.") is False
    assert endpoint.calls == 1
    assert (await site.node.status())["partners"]["webhooks_queued"] == 1
    # Not due yet: the first wait is at least 15 s (30 s with jitter on its upper half).
    site.node.clock.advance(10)  # type: ignore[attr-defined]
    assert await service.deliver_webhooks() == 0 and endpoint.calls == 1
    site.node.clock.advance(30)  # type: ignore[attr-defined]
    assert await service.deliver_webhooks() == 0 and endpoint.calls == 2  # failed again
    site.node.clock.advance(60)  # type: ignore[attr-defined]
    assert await service.deliver_webhooks() == 1 and endpoint.calls == 3
    assert (await site.node.status())["partners"]["webhooks_queued"] == 0
    ((headers, body),) = endpoint.got
    # Signed when sent, so the partner's 5-minute window holds for a late delivery.
    ts = int(headers["X-Alertnode-Timestamp"])
    assert ts == site.node.clock.now()
    assert headers["X-Alertnode-Signature"] == sign_payload(
        added["webhook_secret"].encode(), ts, body
    )
    answer = json.loads(body)
    assert answer["status"] == "answered"
    assert answer["recommendation"] == {"action": "warn", "note": "Warn the advertisers."}


async def test_a_webhook_call_is_dropped_after_its_last_try_and_for_a_revoked_partner(
    site: Site, hook: tuple[Hook, str]
) -> None:
    endpoint, url = hook
    added, report_id = await _answered_report(site, url)
    endpoint.fail = 10 * MAX_WEBHOOK_ATTEMPTS
    service = for_node(site.node.unlocked(), site.node.clock)
    await service.answer(report_id, "monitor", "")
    for _ in range(MAX_WEBHOOK_ATTEMPTS + 3):
        site.node.clock.advance(7 * 3600)  # type: ignore[attr-defined]
        await service.deliver_webhooks()
    assert endpoint.calls == MAX_WEBHOOK_ATTEMPTS
    assert (await site.node.status())["partners"]["webhooks_queued"] == 0
    # Queued for a partner revoked meanwhile: never called again.
    await service.answer(report_id, "remove", "")
    calls = endpoint.calls
    await site.store.partners.revoke(added["id"])
    site.node.clock.advance(7 * 3600)  # type: ignore[attr-defined]
    assert await service.deliver_webhooks() == 0
    assert endpoint.calls == calls
    assert (await site.node.status())["partners"]["webhooks_queued"] == 0


async def test_status_counts_partners_and_sms_without_tokens_or_numbers(site: Site) -> None:
    added = await add_partner(site, "Counted Platform", "check,report,referral")
    await add_partner(site, "Gone Platform", "check")
    await site.store.partners.revoke((await site.store.partners.find("Gone Platform")).id)
    v = await site.visitor()
    body = {"account": {"phone": NATIONAL}, "description": "x", "consent": True}
    await call(v, "POST", "/partner/v1/reports", added["token"], body)
    await call(v, "POST", "/partner/v1/referrals", added["token"], {"count": 3})
    await site.store.sms.set_gateway("generic", "gateway-secret-771", "")
    await site.store.sms.set_number(await member(site.node), "+447700900555", "en")
    status = await site.node.status()
    assert status["partners"] == {
        "active": 1,
        "revoked": 1,
        "reports": {"received": 1, "reviewing": 0, "answered": 0},
        "referrals": {"unused": 3, "waiting": 0, "joined": 0},
        "webhooks_queued": 0,
    }
    assert status["sms"] == {"gateways": [{"kind": "generic", "reply_channel": ""}], "members": 1}
    shown = json.dumps(status)
    for secret in (added["token"], "Counted Platform", "gateway-secret-771", "900555"):
        assert secret not in shown


ROUTES = (
    ("POST", "/partner/v1/check"),
    ("POST", "/partner/v1/reports"),
    ("GET", "/partner/v1/reports/" + "a" * 24),
    ("GET", "/partner/v1/complaints"),
    ("POST", "/partner/v1/referrals"),
    ("POST", "/sms/v1/inbound"),
    ("POST", "/sms/v1/android"),
    ("POST", "/sms/v1/twilio"),
)


class StoppingHost(FakeHost):
    """Not flagged locked, but nothing is open (a node between states): the routes
    meet ``Locked`` from ``unlocked()`` and must answer as a locked node does."""


@pytest.mark.parametrize("host", [FakeHost(locked=True), StoppingHost()], ids=["locked", "opening"])
async def test_a_locked_node_answers_partner_and_sms_routes_with_json_503(host: FakeHost) -> None:
    server = TestServer(web_app(host))
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            for method, path in ROUTES:
                async with session.request(
                    method, server.make_url(path), json={}, headers={"Authorization": "Bearer x"}
                ) as resp:
                    assert resp.status == 503, path
                    assert resp.content_type == "application/json", path
                    answer = await resp.json()
                assert answer["error"]["code"] == "unavailable", path
    finally:
        await server.close()
