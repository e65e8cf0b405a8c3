"""The partner API: JSON under ``/partner/v1/`` on the web port (issue 15, point 3).

Rule: every call but the OpenAPI document carries ``Authorization: Bearer TOKEN``; an
unknown or revoked token is 401 and a token without the endpoint's scope is 403,
before the body is read; every answer, errors included, is JSON, errors as
``{"error": {"code", "message"}}`` whose message never quotes what was sent; calls
are limited per partner and bad tokens per client; every use is audited by partner
id and counts only (``node.partners``). These routes take no cookie and no session,
so the pages' CSRF check does not apply to them (site.py skips it for this prefix).
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..errors import Locked, NodeError, NotFound, UsageError
from ..partners import (
    MAX_CHECK_INDICATORS,
    MAX_REFERRALS,
    PARTNER_KINDS,
    REFERRAL_TTL_S,
    for_node,
    report_json,
)
from ..store.partners import Partner
from .context import client, host, state, unlocked
from .partner_openapi import openapi_document
from .ratelimit import key_of

log = logging.getLogger(__name__)

PREFIX = "/partner/v1/"
MAX_PARTNER_BODY_BYTES = 64 * 1024
MAX_ACCOUNT_CHARS = 320

Endpoint = Callable[[web.Request, Partner], Awaitable[web.Response]]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def _authorise(request: web.Request, scope: str) -> Partner:
    st, now = state(request), host(request).clock.now()
    who = client(request).key("partner-token")
    if who is not None and not st.limits.partner_bad_token.allowed(who, now):
        raise ApiError(429, "rate_limited", "Too many calls with bad tokens; wait and retry.")
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    partner = None
    if scheme.lower() == "bearer" and 0 < len(token.strip()) <= 200:
        partner = await unlocked(request).store.partners.by_token(token.strip())
    if partner is None:
        if who is not None:
            st.limits.partner_bad_token.hit(who, now)
        raise ApiError(401, "unauthorized", "The token is missing, unknown or revoked.")
    if scope not in partner.scopes:
        raise ApiError(403, "forbidden", f"This token does not have the '{scope}' scope.")
    if not st.limits.partner_calls.take(key_of("partner", str(partner.id)), now):
        raise ApiError(429, "rate_limited", "Too many calls; wait a minute and retry.")
    return partner


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_PARTNER_BODY_BYTES:
        raise ApiError(413, "too_large", "The request body is too large.")
    try:
        raw = await request.content.read(MAX_PARTNER_BODY_BYTES + 1)
    except ValueError:
        raise ApiError(400, "invalid_json", "The body is not JSON.") from None
    if len(raw) > MAX_PARTNER_BODY_BYTES:
        raise ApiError(413, "too_large", "The request body is too large.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "The body is not JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The body is a JSON object.")
    return body


def endpoint(
    scope: str | None,
) -> Callable[[Endpoint], Callable[[web.Request], Awaitable[web.Response]]]:
    """Wrap a partner endpoint: authorise for ``scope``, map errors to JSON."""

    def wrap(fn: Endpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            try:
                if host(request).locked:
                    raise Locked("locked")
                partner = await _authorise(request, scope) if scope else None
                return await fn(request, partner)  # type: ignore[arg-type]
            except ApiError as exc:
                return error_response(exc.status, exc.code, exc.message)
            except Locked:
                return error_response(
                    503, "unavailable", "The service is unavailable; retry later."
                )
            except NotFound:
                return error_response(404, "not_found", "No such resource.")
            except UsageError as exc:
                return error_response(400, "invalid", exc.message)
            except NodeError:
                log.warning("a partner call failed")
                return error_response(500, "internal", "Something went wrong; retry later.")

        return handler

    return wrap


def _indicator(item: object, position: int) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise ApiError(400, "invalid", f"indicators[{position}] is an object.")
    kind, value = item.get("kind"), item.get("value")
    if kind not in PARTNER_KINDS:
        raise ApiError(
            400, "invalid", f"indicators[{position}].kind is one of {', '.join(PARTNER_KINDS)}."
        )
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ACCOUNT_CHARS:
        raise ApiError(400, "invalid", f"indicators[{position}].value is a short string.")
    return kind, value


@endpoint("check")
async def check(request: web.Request, partner: Partner) -> web.Response:
    body = await _json_body(request)
    items = body.get("indicators")
    if not isinstance(items, list) or not items:
        raise ApiError(400, "invalid", "indicators is a non-empty list.")
    if len(items) > MAX_CHECK_INDICATORS:
        raise ApiError(400, "too_many", f"At most {MAX_CHECK_INDICATORS} indicators per call.")
    pairs = [_indicator(item, n) for n, item in enumerate(items)]
    budget = state(request).limits.partner_indicators
    if not budget.take_many(
        key_of("partner", str(partner.id)), host(request).clock.now(), len(pairs)
    ):
        raise ApiError(
            429, "rate_limited", f"At most {budget.limit} indicators an hour; wait and retry."
        )
    service = for_node(unlocked(request), host(request).clock)
    return web.json_response({"results": await service.check(partner, pairs)})


def _account(body: dict[str, Any]) -> tuple[str, str]:
    account = body.get("account")
    if not isinstance(account, dict) or len(account) != 1:
        raise ApiError(400, "invalid", "account is an object with one of phone, email, handle.")
    ((kind, value),) = account.items()
    if kind not in PARTNER_KINDS or not isinstance(value, str):
        raise ApiError(400, "invalid", "account is an object with one of phone, email, handle.")
    if not 0 < len(value) <= MAX_ACCOUNT_CHARS:
        raise ApiError(400, "invalid", "account's value is a short string.")
    return kind, value


@endpoint("report")
async def create_report(request: web.Request, partner: Partner) -> web.Response:
    body = await _json_body(request)
    if body.get("consent") is not True:
        raise ApiError(
            400, "consent_required", "A report needs the advertiser's consent (consent: true)."
        )
    account = _account(body)
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > 4000:
        raise ApiError(400, "invalid", "description is a string of at most 4000 characters.")
    service = for_node(unlocked(request), host(request).clock)
    ref = await service.report(partner, account, description)
    return web.json_response({"id": ref}, status=201)


@endpoint("report")
async def get_report(request: web.Request, partner: Partner) -> web.Response:
    ref = request.match_info["id"]
    report = await unlocked(request).store.partners.report_by_ref(partner.id, ref)
    service = for_node(unlocked(request), host(request).clock)
    await service.audit(partner, "partner report status")
    return web.json_response(report_json(report))


@endpoint("report")
async def complaints(request: web.Request, partner: Partner) -> web.Response:
    """Members' complaints about this platform, in the caseworkers' words."""
    reports = await unlocked(request).store.partners.reports()
    found = [
        {
            "id": r.ref,
            "day": datetime.datetime.fromtimestamp(r.created, datetime.UTC).date().isoformat(),
            "text": r.content.get("description", ""),
        }
        for r in reports
        if r.partner_id == partner.id and r.content.get("kind") == "complaint"
    ]
    service = for_node(unlocked(request), host(request).clock)
    await service.audit(partner, "partner complaints", complaints=len(found))
    return web.json_response({"complaints": found})


@endpoint("referral")
async def referrals(request: web.Request, partner: Partner) -> web.Response:
    body = await _json_body(request)
    count = body.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_REFERRALS:
        raise ApiError(400, "invalid", f"count is a whole number from 1 to {MAX_REFERRALS}.")
    now = host(request).clock.now()
    store = unlocked(request).store
    codes = await store.partners.create_referrals(partner.id, count, now + REFERRAL_TTL_S, now)
    service = for_node(unlocked(request), host(request).clock)
    await service.audit(partner, "partner referrals", codes=count)
    return web.json_response({"codes": codes})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


async def not_found(request: web.Request) -> web.Response:
    return error_response(404, "not_found", "No such endpoint.")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PREFIX + "openapi.json", openapi, name="partner_openapi")
    router.add_post(PREFIX + "check", check, name="partner_check")
    router.add_post(PREFIX + "reports", create_report, name="partner_reports")
    router.add_get(PREFIX + r"reports/{id:[0-9a-f]{1,64}}", get_report, name="partner_report")
    router.add_get(PREFIX + "complaints", complaints, name="partner_complaints")
    router.add_post(PREFIX + "referrals", referrals, name="partner_referrals")
    router.add_route("*", PREFIX + "{tail:.*}", not_found)
