"""Member pages: check an identifier, browse recent alerts, report an incident, and
see or delete one's own reports (saving one as a file, and receipts: receipts.py).

Rule: what a member checks travels only in a POST body (never in a URL, so never in
history or a log), is blinded in the node's pool and compared blinded; a check is
rate-limited per member and per client. Browse filters are sent by POST and kept in
the session (POST-redirect-GET to the plain /alerts), never in a URL. A report stores
exactly what the member entered, sealed; a member sees only their own reports, on screen.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from aiohttp import web
from markupsafe import Markup

from protocol.fields import CATEGORIES
from protocol.limits import MAX_CATEGORIES, MAX_INCIDENT_AGE_DAYS

from ..errors import NotFound
from ..store.pages import Cursor
from ..store.records import Report
from ..warnings import KIND_LABELS, split
from .confirm import ask, confirmed
from .context import (
    client,
    host,
    need,
    redirect,
    redirect_done,
    render,
    state,
    take_notice,
    translator,
    unlocked,
)
from .forms import Form, phone_country
from .i18n import INDICATOR_LABELS, SHARE_LABELS, Translator
from .receipts import issue_receipt, pending_receipt
from .travel import region_choices

log = logging.getLogger(__name__)

CHECK_KINDS = ("phone", "email", "handle", "plate")
REPORT_INDICATOR_KINDS = ("phone", "email", "handle", "plate")
MAX_REPORT_CHARS = 4000
MAX_PERSON_CHARS = 500
MAX_BROWSE_ALERTS = 100
DANGER_CHOICES = ("1", "2", "3")


def today(request: web.Request) -> datetime.date:
    now = host(request).clock.now()
    return datetime.datetime.fromtimestamp(now, datetime.UTC).date()


# --- check -------------------------------------------------------------------------


async def check_page(request: web.Request) -> web.Response:
    need(request)
    return render(request, "check.html", form=Form({}, translator(request)), result=None)


async def check(request: web.Request) -> web.Response:
    st, t = state(request), translator(request)
    me = need(request)
    parts = unlocked(request)
    service, settings = parts.alerts, parts.settings
    form = Form(await request.post(), t)
    kind = form.choice("kind", CHECK_KINDS)
    value = form.indicator("value", kind, settings["phone_region"], required=True) if kind else ""
    if not form.ok:
        return render(request, "check.html", status=400, form=form, result=None)
    now = st.host.clock.now()
    member_key = str(me.member_id).encode()
    # An anonymous client has no budget of its own (node/web/clients.py); the
    # member's own limit holds for everyone.
    per_client = client(request).key("check")
    per_member = int(settings["checks_per_hour"])
    if not (
        st.limits.check_member.allowed(member_key, now, per_member)
        and (per_client is None or st.limits.check_client.allowed(per_client, now))
    ):
        form.refuse(t.gettext("You have made many checks this hour. Try again later."))
        return render(request, "check.html", status=429, form=form, result=None)
    st.limits.check_member.hit(member_key, now)
    if per_client is not None:
        st.limits.check_client.hit(per_client, now)
    result = await service.check(kind, value)
    return render(request, "check.html", form=form, result=result, checked=value)


# --- browse ------------------------------------------------------------------------


BROWSE_FIELDS = ("region", "category", "danger")


async def browse(request: web.Request) -> web.Response:
    """The alerts under the filters last chosen in this session (``choose_filters``)."""
    me = need(request)
    return await _browse(request, me.browse)


async def choose_filters(request: web.Request) -> web.Response:
    """Keep the chosen filters in the session and show them at the plain /alerts."""
    me = need(request)
    posted = await request.post()
    chosen = {
        name: [v for v in posted.getall(name) if isinstance(v, str)]
        for name in BROWSE_FIELDS
        if name in posted
    }
    own, travel = await region_choices(request)
    form = Form(chosen, translator(request))
    picked, category, danger = _filters(form, own + travel)
    if not form.ok:
        return _render_alerts(request, form, (own, travel), [])  # nothing kept
    # Only the checked values are kept (no repeats): a session holds a few short strings.
    me.browse = {"region": picked, "category": [category], "danger": [danger]}
    return redirect("/alerts")


def _filters(form: Form, regions: list[str]) -> tuple[list[str], str, str]:
    picked = form.choices("region", regions, minimum=0, maximum=len(regions) or 1)
    category = form.choice("category", CATEGORIES, required=False)
    danger = form.choice("danger", DANGER_CHOICES, required=False)
    return picked, category, danger


async def _browse(request: web.Request, query: dict[str, list[Any]]) -> web.Response:
    """The alerts under ``query``: the node's own regions and the regions of alerts
    from other organisations (a travelling member's), a category, a minimum danger;
    one page, newest first, older than the session's cursor if the member asked for
    older alerts (``older``). The store reads each filter from an index."""
    t = translator(request)
    service = unlocked(request).alerts
    own, travel = await region_choices(request)
    form = Form({k: v for k, v in query.items() if k in BROWSE_FIELDS}, t)
    picked, category, danger = _filters(form, own + travel)
    alerts: list[dict[str, Any]] = []
    cursor: Cursor | None = None
    warnings: list[dict[str, Any]] = []
    before = Cursor.from_text(str((query.get("before") or [""])[0]))
    if form.ok:
        alerts, cursor = await service.browse(
            regions=picked,
            category=category or None,
            min_danger=int(danger) if danger else None,
            limit=MAX_BROWSE_ALERTS,
            before=before,
        )
        # Area warnings (node/warnings.py) are shown apart, above the first page,
        # under the region and danger filters only (their category is always
        # "other"), and only where the organisation offers them.
        alerts = split(alerts)[0]
        if before is None and unlocked(request).settings["area_warnings"]:
            found, _ = await service.browse(
                regions=picked,
                category="other",
                min_danger=int(danger) if danger else None,
                limit=MAX_BROWSE_ALERTS,
            )
            warnings = split(found)[1]
    cards = state(request).cards.cards(
        state(request).env, t, service, unlocked(request).store.alerts.removals, alerts
    )
    return _render_alerts(
        request, form, (own, travel), cards, cursor, older=before is not None, warnings=warnings
    )


async def older(request: web.Request) -> web.Response:
    """Keep the cursor of the next (older) page in the session, beside the filters."""
    me = need(request)
    posted = await request.post()
    text = posted.get("before")
    cursor = Cursor.from_text(text) if isinstance(text, str) else None
    if cursor is None:
        me.browse = {k: v for k, v in me.browse.items() if k != "before"}
    else:
        me.browse = {**me.browse, "before": [cursor.to_text()]}
    return redirect("/alerts")


def _render_alerts(
    request: web.Request,
    form: Form,
    regions: tuple[list[str], list[str]],
    cards: list[Markup],
    cursor: Cursor | None = None,
    *,
    older: bool = False,
    warnings: list[dict[str, Any]] | None = None,
) -> web.Response:
    own, travel = regions
    return render(
        request,
        "alerts.html",
        status=200 if form.ok else 400,
        form=form,
        regions=own,
        travel_regions=travel,
        categories=CATEGORIES,
        cards=cards[:MAX_BROWSE_ALERTS],
        more=cursor is not None,
        next_page=cursor.to_text() if cursor is not None else "",
        older=older,
        warnings=(warnings or [])[:MAX_BROWSE_ALERTS],
        warning_label=lambda kind: translator(request).gettext(KIND_LABELS[kind]),
    )


# --- reports -----------------------------------------------------------------------


async def _platforms(request: web.Request) -> list[tuple[str, str]]:
    """Partner platforms a report can be about (their conduct), by name."""
    return [(p.name, p.name) for p in await unlocked(request).store.partners.active()]


def report_context(
    request: web.Request, form: Form, platforms: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    settings = unlocked(request).settings
    return {
        "platforms": platforms or [],
        "form": form,
        "regions": settings["regions"],
        "categories": CATEGORIES,
        "kinds": REPORT_INDICATOR_KINDS,
        "indicator_labels": INDICATOR_LABELS,
        "shares": SHARE_LABELS,
        "today": today(request).isoformat(),
    }


async def report_page(request: web.Request) -> web.Response:
    need(request)
    form = Form({}, translator(request))
    return render(
        request, "report.html", **report_context(request, form, await _platforms(request))
    )


def read_report(request: web.Request, form: Form) -> dict[str, Any]:
    """A report's content from the report form's fields (the member's own form and the
    caseworkers' outreach form share them); errors are recorded on ``form``."""
    settings = unlocked(request).settings
    categories = form.choices("categories", CATEGORIES, minimum=1, maximum=MAX_CATEGORIES)
    incident = form.date("incident", today=today(request), max_age_days=MAX_INCIDENT_AGE_DAYS)
    region = form.region("region", settings["regions"])
    danger = form.choice("danger", DANGER_CHOICES)
    # Stored normalised (international), so the report's own country may read them.
    country = phone_country(region, settings["phone_region"])
    indicators = {
        kind: value
        for kind in REPORT_INDICATOR_KINDS
        if (value := form.indicator(kind, kind, country))
    }
    person = form.text("person", required=False, max_chars=MAX_PERSON_CHARS, multiline=True)
    text = form.text("text", max_chars=MAX_REPORT_CHARS, multiline=True)
    share = form.choice("share", SHARE_LABELS)
    return {
        "categories": categories,
        "incident": incident,
        "region": region,
        "danger": int(danger) if danger else 0,
        "indicators": indicators,
        "person": person,
        "text": text,
        "share": share,
        "lang": translator(request).lang,
    }


async def report(request: web.Request) -> web.Response:
    st, t = state(request), translator(request)
    me = need(request)
    store = unlocked(request).store
    form = Form(await request.post(), t)
    content = read_report(request, form)
    platforms = await _platforms(request)
    platform = form.choice("platform", [p for p, _ in platforms], required=False)
    if not form.ok:
        context = report_context(request, form, platforms)
        return render(request, "report.html", status=400, **context)
    if platform:
        # Also about how a partner platform behaved: a caseworker may pass it on to
        # the platform in her own words, never with the member's identity.
        content["platform"] = platform
    await store.reports.create(me.member_id, content, st.host.clock.now())
    issue_receipt(request, content)
    log.debug("a report was received")
    return redirect_done(request, "/reports", "sent")


def report_title(t: Translator, report: Report) -> str:
    """A report as its member knows it: the day it happened and what happened."""
    content = report.content
    categories = ", ".join(t.category(c) for c in content.get("categories", []))
    day = t.date(content.get("incident") or report.created)
    return t.gettext("%(date)s: %(categories)s", date=day, categories=categories)


async def report_states(store: Any, reports: list[Report], now: int) -> dict[int, str]:
    """Each report's status as its member should read it: a published report follows
    its alert (retracted, superseded by a correction, expired)."""
    alerts = [r.alert_id for r in reports if r.status == "published" and r.alert_id]
    states = await store.alerts.alert_states(alerts, now)
    shown = {}
    for r in reports:
        became = states.get(r.alert_id, "active") if r.status == "published" else "active"
        shown[r.id] = r.status if became == "active" else became
    return shown


async def my_reports(request: web.Request) -> web.Response:
    me = need(request)
    store = unlocked(request).store
    t = translator(request)
    reports = await store.reports.list(member_id=me.member_id)
    sent = take_notice(request)
    receipt = pending_receipt(request) if sent == "sent" else None
    return render(
        request,
        "reports.html",
        reports=reports,
        sent=sent,
        receipt=receipt,
        titles={r.id: report_title(t, r) for r in reports},
        states=await report_states(store, reports, state(request).host.clock.now()),
    )


async def _own_report(request: web.Request) -> Any:
    me = need(request)
    store = unlocked(request).store
    try:
        report_id = int(request.match_info["id"])
        found = await store.reports.get(report_id)
    except (ValueError, NotFound):
        raise web.HTTPNotFound() from None
    if found.member_id != me.member_id:
        raise web.HTTPNotFound()
    return found


async def delete_report(request: web.Request) -> web.Response:
    found = await _own_report(request)
    store = unlocked(request).store
    data = await request.post()
    if not confirmed(data):
        t = translator(request)
        return ask(
            request,
            data,
            question=t.gettext("Delete this report: %(title)s?", title=report_title(t, found)),
            consequence=t.gettext(
                "It is deleted from this node for good and cannot be brought back. "
                "An alert already published from it stays: to have it taken down, "
                "ask for it to be withdrawn instead."
            ),
            button=t.gettext("Delete the report"),
            back="/reports",
        )
    await store.reports.delete(found.id, member_id=found.member_id)
    return redirect_done(request, "/reports", "deleted")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/check", check_page, name="check")
    router.add_post("/check", check)
    router.add_get("/alerts", browse, name="alerts")
    router.add_post("/alerts", choose_filters)
    router.add_post("/alerts/older", older, name="alerts_older")
    router.add_get("/report", report_page, name="report")
    router.add_post("/report", report)
    router.add_get("/reports", my_reports, name="reports")
    # Row ids are SQLite's 64-bit integers: a longer run of digits is no page (not a 500).
    # No /reports/ID.json: a report becomes a file only through receipts.save_page.
    router.add_post(r"/reports/{id:[0-9]{1,18}}/delete", delete_report, name="report_delete")
