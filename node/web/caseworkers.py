"""Caseworker pages: the review queue, the alert editor (redaction helper, preview,
publish), and this node's published alerts (retract, supersede).

Rule: reports are decrypted only for caseworkers and admins; an alert is published
only from a complete, valid editor form, never beyond the sharing the member allowed,
and never while flagged identifiers in its text are unresolved unless the caseworker
ticks that they keep them knowingly. The preview shows the exact fields peers
receive, blinded values included. Every publish, retract and decline is audited with
the actor's member id and role, never a nickname.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from protocol.alert import AlertBody, coarsen_hour, read_stored_alert
from protocol.fields import CATEGORIES, INDICATOR_KINDS, RETRACTION_REASONS, TLP_LABELS
from protocol.limits import (
    DAY_S,
    MAX_DESCRIPTION_CHARS,
)

from ..errors import NotFound, UsageError
from ..service import Draft, parse_alert_id
from ..store import Report
from .confirm import ask, confirmed
from .context import (
    error_page,
    host,
    need,
    redirect_done,
    render,
    take_notice,
    translator,
    unlocked,
)
from .drafts import (
    apply_fixes,
    hop_cap,
    initial_from_alert,
    initial_from_report,
    read_draft,
    report_country,
)
from .forms import Form, phone_country
from .i18n import INDICATOR_LABELS, SHARE_LABELS
from .members import today
from .receipts import pending_receipt
from .redaction import OWN_ORGANISATION, as_seen, find_identifiers

log = logging.getLogger(__name__)


async def _audit(request: web.Request, action: str, **fields: Any) -> None:
    me = need(request, "caseworker")
    store = unlocked(request).store
    entry = {"actor": me.member_id, "role": me.role, "action": action, **fields}
    await store.audit.append(host(request).clock.now(), entry)


async def queue(request: web.Request) -> web.Response:
    need(request, "caseworker")
    store = unlocked(request).store
    reports = [
        r
        for r in await store.reports.list()
        if r.status in ("new", "reviewed") or r.withdraw or r.help
    ]
    partner_waiting = sum(
        r.status != "answered" and r.content.get("kind") != "complaint"
        for r in await store.partners.reports()
    )
    done = take_notice(request)
    return render(
        request,
        "review.html",
        reports=reports,
        partner_waiting=partner_waiting,
        done=done,
        # The code for the person an outreach report was just recorded for: shown
        # once to the caseworker, who hands it on (node/web/outreach.py).
        receipt=pending_receipt(request) if done == "outreach" else None,
        warnings_on=unlocked(request).settings["area_warnings"],
    )


async def _report(request: web.Request) -> Report:
    store = unlocked(request).store
    try:
        return await store.reports.get(int(request.match_info["id"]))
    except (ValueError, NotFound):
        raise web.HTTPNotFound() from None


async def _preview(request: web.Request, draft: Draft) -> dict[str, Any]:
    """The alert body exactly as peers will receive it (blinded values included)."""
    node = host(request)
    parts = node.unlocked()
    service = parts.alerts
    now = node.clock.now()
    created = coarsen_hour(now)
    indicators = [
        [i.kind, i.suite, i.key_id.hex(), i.blinded.hex()]
        for i in await service.blind_indicators(draft.indicators)
    ]
    return {
        "v": 2,
        "origin": service.origin.hex(),
        "nonce": "(drawn at random when published)",
        "created": created,
        "expires": created + (draft.expires_days or 1) * DAY_S,
        "incident": draft.incident,
        "region": draft.region.upper(),
        "categories": list(dict.fromkeys(draft.categories)),
        "danger": draft.danger,
        "indicators": indicators,
        "description": draft.description,
        "lang": draft.lang,
        "translations": dict(draft.translations),
        "hops": draft.hops,
        "tlp": draft.tlp,
        "partner_checks": draft.partner_checks,
        "supersedes": draft.supersedes.hex() if draft.supersedes else None,
        "ext": {},
        "must_understand": [],
    }


def _editor(
    request: web.Request,
    form: Form,
    *,
    report: Report | None,
    supersedes: bytes | None,
    action: str,
    status: int = 200,
    preview: dict[str, Any] | None = None,
    message: str = "",
    corrected: AlertBody | None = None,
) -> web.Response:
    settings = unlocked(request).settings
    description = form.values.get("description", "")
    findings = find_identifiers(
        description if isinstance(description, str) else "",
        report_country(form, report, settings["phone_region"]),
    )
    return render(
        request,
        "editor.html",
        status=status,
        form=form,
        report=report,
        supersedes=supersedes.hex() if supersedes else None,
        action=action,
        cap=hop_cap(report, corrected),
        findings=findings,
        preview=preview,
        seen=as_seen(preview, translator(request).gettext(OWN_ORGANISATION)) if preview else None,
        preview_json=json.dumps(preview, indent=2, ensure_ascii=False) if preview else "",
        message=message,
        regions=settings["regions"],
        categories=CATEGORIES,
        kinds=INDICATOR_KINDS,
        indicator_labels=INDICATOR_LABELS,
        shares=SHARE_LABELS,
        tlps=TLP_LABELS,
        max_description=MAX_DESCRIPTION_CHARS,
        idempotency=_form_key(form),
    )


def _form_key(form: Form) -> str:
    """The form's idempotency key: the one it came with, else a new random one."""
    key = form.values.get("idempotency")
    if isinstance(key, str) and 0 < len(key) <= 64:
        return key
    return secrets.token_urlsafe(16)


async def edit_report(request: web.Request) -> web.Response:
    need(request, "caseworker")
    report = await _report(request)
    settings = unlocked(request).settings
    form = Form(initial_from_report(report, settings), translator(request))
    form.values = initial_from_report(report, settings)
    action = f"/review/{report.id}"
    return _editor(request, form, report=report, supersedes=None, action=action)


async def new_alert(request: web.Request) -> web.Response:
    need(request, "caseworker")
    settings = unlocked(request).settings
    form = Form({}, translator(request))
    form.values = {
        "lang": translator(request).lang,
        "hops": str(settings["alert_hops"]),
        "tlp": "GREEN",
        "expires_days": str(settings["alert_expiry_days"]),
        "incident": today(request).isoformat(),
    }
    return _editor(request, form, report=None, supersedes=None, action="/review/new")


async def _old_alert(request: web.Request) -> tuple[bytes, AlertBody]:
    service = unlocked(request).alerts
    try:
        alert_id = parse_alert_id(request.match_info["alert"])
    except UsageError:
        raise web.HTTPNotFound() from None
    store = unlocked(request).store
    stored = await store.alerts.get_alert(alert_id, host(request).clock.now())
    if stored is None or stored.origin != service.origin:
        raise web.HTTPNotFound()
    return alert_id, read_stored_alert(stored.envelope)


async def supersede_page(request: web.Request) -> web.Response:
    need(request, "caseworker")
    alert_id, body = await _old_alert(request)
    parts = unlocked(request)
    store, settings = parts.store, parts.settings
    report = await store.reports.by_alert(alert_id)
    form = Form({}, translator(request))
    form.values = initial_from_alert(body, report, settings)
    return _editor(
        request,
        form,
        report=report,
        supersedes=alert_id,
        action=f"/supersede/{alert_id.hex()}",
        corrected=body,
    )


async def _submit(
    request: web.Request,
    report: Report | None,
    supersedes: bytes | None,
    action: str,
    corrected: AlertBody | None = None,
) -> web.Response:
    t = translator(request)
    data: MultiDict[Any] = MultiDict(await request.post())
    button = data.get("action")
    if button == "apply":
        apply_fixes(data)
    form = Form(MultiDictProxy(data), t)
    draft = read_draft(request, form, hop_cap(report, corrected), supersedes)
    kw: dict[str, Any] = {
        "report": report,
        "supersedes": supersedes,
        "action": action,
        "corrected": corrected,
    }
    if draft is None or button not in ("preview", "publish"):
        return _editor(request, form, status=200 if button == "apply" else 400, **kw)
    if report is not None and report.status == "withdrawn":
        message = t.gettext("The member withdrew this report.")
        return _editor(request, form, status=400, message=message, **kw)
    if report is not None and report.content.get("share") == "no":
        # An outreach report (node/web/outreach.py) is someone met in person or by
        # phone, not a member.
        if report.content.get("source") == "outreach":
            message = t.gettext("The person did not allow this report to be shared as an alert.")
        else:
            message = t.gettext("The member did not allow this report to be shared as an alert.")
        return _editor(request, form, status=400, message=message, **kw)
    settings = unlocked(request).settings
    unresolved = find_identifiers(
        draft.description, phone_country(draft.region, settings["phone_region"])
    )
    preview = await _preview(request, draft)
    if button == "preview":
        return _editor(request, form, preview=preview, **kw)
    if unresolved and not form.flag("keep_findings"):
        form.error(
            "description",
            t.gettext(
                "The text still contains identifiers. Move or remove them, "
                "or tick the box to keep them knowingly."
            ),
        )
        return _editor(request, form, status=400, preview=preview, **kw)
    parts = unlocked(request)
    store, service = parts.store, parts.alerts
    try:
        alert_id = await service.publish(draft)
    except UsageError as exc:
        return _editor(request, form, status=400, message=exc.message, **kw)
    extra = {"supersedes": supersedes.hex()} if supersedes else {}
    await _audit(request, "publish", alert=alert_id.hex(), **extra)
    if report is not None:
        await store.reports.set_status(report.id, "published", alert_id)
    return redirect_done(request, "/published", "published")


async def submit_report(request: web.Request) -> web.Response:
    need(request, "caseworker")
    report = await _report(request)
    return await _submit(request, report, None, f"/review/{report.id}")


async def submit_new(request: web.Request) -> web.Response:
    need(request, "caseworker")
    return await _submit(request, None, None, "/review/new")


async def submit_supersede(request: web.Request) -> web.Response:
    need(request, "caseworker")
    alert_id, corrected = await _old_alert(request)
    store = unlocked(request).store
    report = await store.reports.by_alert(alert_id)
    return await _submit(request, report, alert_id, f"/supersede/{alert_id.hex()}", corrected)


async def decline(request: web.Request) -> web.Response:
    need(request, "caseworker")
    report = await _report(request)
    store = unlocked(request).store
    await store.reports.set_status(report.id, "declined")
    await _audit(request, "decline", report=report.id)
    return redirect_done(request, "/review", "declined")


async def published(request: web.Request) -> web.Response:
    need(request, "caseworker")
    service = unlocked(request).alerts
    own = [a for a in await service.list(limit=1000) if a["origin"] == service.origin.hex()]
    return render(
        request,
        "published.html",
        alerts=own,
        reasons=RETRACTION_REASONS,
        done=take_notice(request),
    )


async def retract(request: web.Request) -> web.Response:
    need(request, "caseworker")
    t = translator(request)
    alert_id, _ = await _old_alert(request)
    data = await request.post()
    form = Form(data, t)
    reason = form.choice("reason", RETRACTION_REASONS)
    if not form.ok:
        return error_page(request, 400, t.gettext("Choose a reason for the retraction."))
    if not confirmed(data):
        return ask(
            request,
            data,
            question=t.gettext("Retract this alert?"),
            consequence=t.gettext(
                "Every node that holds it drops what it says, and members no longer see "
                "it. This cannot be undone: to warn again, publish a new alert."
            ),
            button=t.gettext("Retract the alert"),
            back="/published",
        )
    service = unlocked(request).alerts
    await service.retract(alert_id, reason)
    await _audit(request, "retract", alert=alert_id.hex(), reason=reason)
    return redirect_done(request, "/published", "retracted")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/review", queue, name="review")
    router.add_get("/review/new", new_alert, name="new_alert")
    router.add_post("/review/new", submit_new)
    # Row ids are SQLite's 64-bit integers: a longer run of digits is no page (not a 500).
    router.add_get(r"/review/{id:[0-9]{1,18}}", edit_report, name="edit_report")
    router.add_post(r"/review/{id:[0-9]{1,18}}", submit_report)
    router.add_post(r"/review/{id:[0-9]{1,18}}/decline", decline, name="decline")
    router.add_get("/published", published, name="published")
    router.add_get("/supersede/{alert:[0-9a-f]{64}}", supersede_page, name="supersede")
    router.add_post("/supersede/{alert:[0-9a-f]{64}}", submit_supersede)
    router.add_post("/published/{alert:[0-9a-f]{64}}/retract", retract, name="retract")
