"""Outreach pages: a member's Atom feed (a secret URL) and the printable bulletin.

Rule: a feed URL names a member, their regions and language, and carries a keyed tag
(under the node's data key) over those and the member's passphrase hash, so it works
in a feed reader without a session, stops working when the member is revoked or
deleted, and changes when they change their passphrase. Feeds and bulletins carry
only what members already see: alerts' structured parts in the chosen language and
their redacted descriptions. The choices on the feed and bulletin forms travel in POST
bodies, never in the page's URL.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hmac
from typing import Any

from aiohttp import web

from protocol.errors import ProtocolError
from protocol.fields import check_region

from ..store import Store
from ..warnings import split
from .context import host, need, org_text, render, state, translator, unlocked
from .forms import Form
from .i18n import LANGUAGES, Translator
from .travel import region_choices

MAX_FEED_ALERTS = 50
MAX_BULLETIN_ALERTS = 60
MAX_FEED_REGIONS = 10


def _encode(payload: str) -> str:
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode(text: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _tag(store: Store, payload: str, pass_hash: str) -> str:
    return str(store.crypto.tag("feed", f"{payload}\n{pass_hash}".encode()).hex())


async def feed_token(store: Store, member_id: int, regions: list[str], lang: str) -> str:
    pass_hash = await store.members.pass_hash(member_id)
    payload = f"{member_id}|{','.join(regions)}|{lang}"
    return f"{_encode(payload)}.{_tag(store, payload, pass_hash or '')}"


async def read_token(store: Store, token: str) -> tuple[int, list[str], str] | None:
    encoded, _, tag = token.partition(".")
    payload = _decode(encoded)
    if payload is None or payload.count("|") != 2:
        return None
    member, regions_text, lang = payload.split("|")
    if not member.isdigit() or lang not in LANGUAGES:
        return None
    pass_hash = await store.members.pass_hash(int(member))
    if pass_hash is None or not hmac.compare_digest(_tag(store, payload, pass_hash), tag):
        return None
    regions = [r for r in regions_text.split(",") if r]
    return int(member), regions, lang


async def _alerts(request: web.Request, regions: list[str], limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` active alerts in any of ``regions`` (all if none), read
    from the store's indexes (node/store/pages.py)."""
    alerts, _ = await unlocked(request).alerts.browse(regions=regions, limit=limit)
    return split(alerts)[0]  # area warnings are shown apart, on the alerts page


async def feed_page(request: web.Request) -> web.Response:
    """Where a member picks regions and a language and gets their secret feed URL."""
    me = need(request)
    t = translator(request)
    parts = unlocked(request)
    store = parts.store
    posted = await request.post() if request.method == "POST" else None
    form = Form(posted or {}, t)
    own, travel = await region_choices(request)
    regions = form.choices("region", own + travel, minimum=0, maximum=MAX_FEED_REGIONS)
    lang = form.choice("lang", LANGUAGES, required=False) or t.lang
    url = ""
    if form.ok and posted is not None:
        token = await feed_token(store, me.member_id, regions, lang)
        url = f"{request.url.origin()}/feed/{token}.atom"
    return render(
        request,
        "feed.html",
        status=200 if form.ok else 400,
        form=form,
        regions=own,
        travel_regions=travel,
        feed_url=url,
        chosen_lang=lang,
    )


async def atom(request: web.Request) -> web.Response:
    store = unlocked(request).store
    found = await read_token(store, request.match_info["token"])
    if found is None:
        raise web.HTTPNotFound()
    _, regions, lang = found
    t = Translator(lang, state(request).overrides)
    alerts = await _alerts(request, regions, MAX_FEED_ALERTS)
    updated = max((a["created"] for a in alerts), default=host(request).clock.now())
    page = (
        state(request)
        .env.get_template("feed.xml")
        .render(
            **t.template_globals(),
            node_name=org_text(request, "public_name", t),
            lang=lang,
            html_lang=t.html_lang,
            alerts=alerts,
            updated=_iso(updated),
            iso=_iso,
            feed_id=f"urn:alertnode:feed:{request.match_info['token'][:16]}",
            site=str(request.url.origin()),
        )
    )
    return web.Response(text=page, content_type="application/atom+xml", charset="utf-8")


def _iso(t: int) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def bulletin(request: web.Request) -> web.Response:
    """Recent alerts for one region in a chosen language, laid out for printing."""
    need(request)
    t = translator(request)
    settings = unlocked(request).settings
    posted = await request.post() if request.method == "POST" else None
    form = Form(posted or {}, t)
    chosen = ""
    if settings["regions"]:
        chosen = form.choice("region", settings["regions"], required=False)
    else:
        raw = form.text("region", required=False, max_chars=20).upper()
        try:
            chosen = check_region("region", raw) if raw else ""
        except ProtocolError:
            form.error("region", t.gettext("Write a region code like GB, GB-LND or FR-75."))
    lang = form.choice("lang", LANGUAGES, required=False) or t.lang
    if not form.ok or posted is None:
        return render(
            request,
            "bulletin_form.html",
            status=200 if form.ok else 400,
            form=form,
            regions=settings["regions"],
        )
    reader = Translator(lang, state(request).overrides)
    alerts = await _alerts(request, [chosen] if chosen else [], MAX_BULLETIN_ALERTS)
    now = host(request).clock.now()
    return render(request, "bulletin.html", t=reader, alerts=alerts, region=chosen, printed=now)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/feed", feed_page, name="feed")
    router.add_post("/feed", feed_page)
    router.add_get("/feed/{token:[A-Za-z0-9_-]{1,200}\\.[0-9a-f]{32}}.atom", atom, name="atom")
    router.add_get("/bulletin", bulletin, name="bulletin")
    router.add_post("/bulletin", bulletin)
