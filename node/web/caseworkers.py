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
    MAX_CATEGORIES,
    MAX_DESCRIPTION_CHARS,
    MAX_HOPS,
    MAX_INCIDENT_AGE_DAYS,
    MAX_INDICATORS,
)

from ..errors import NotFound, UsageError
from ..languages import code_for_tag, html_lang
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
from .forms import Form, indicator_error, phone_country
from .i18n import INDICATOR_LABELS, LANGUAGES, SHARE_LABELS, Translator
from .members import DANGER_CHOICES, today
from .receipts import pending_receipt
from .redaction import MAX_FINDINGS, OWN_ORGANISATION, as_seen, find_identifiers, remove_text

log = logging.getLogger(__name__)

SHARE_HOPS_CAP = {"no": None, "node": 0, "peers": 1, "network": MAX_HOPS}
MAX_INDICATOR_FIELD_CHARS = 4000


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


def _initial_from_report(report: Report, settings: Any) -> dict[str, Any]:
    c = report.content
    cap = SHARE_HOPS_CAP.get(c.get("share", "no"))
    text = "\n\n".join(p for p in (c.get("person", ""), c.get("text", "")) if p)
    values: dict[str, Any] = {
        "categories": list(c.get("categories", [])),
        "danger": str(c.get("danger", "")),
        "region": c.get("region", ""),
        "incident": c.get("incident", ""),
        "description": text,
        "lang": c.get("lang", "en"),
        "hops": str(min(settings["alert_hops"], cap if cap is not None else 0)),
        "tlp": "GREEN" if cap != 0 else "RED",
        "expires_days": str(settings["alert_expiry_days"]),
    }
    for kind, value in c.get("indicators", {}).items():
        values[kind] = value
    return values


def _initial_from_alert(body: Any, report: Report | None, settings: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "categories": list(body.categories),
        "danger": str(body.danger),
        "region": body.region,
        "incident": body.incident,
        "description": body.description,
        "lang": code_for_tag(body.lang) or "en",
        "hops": str(body.hops),
        "tlp": body.tlp,
        "expires_days": str(settings["alert_expiry_days"]),
    }
    if report is not None:
        for kind, value in report.content.get("indicators", {}).items():
            values[kind] = value
    return values


def _cap(report: Report | None, corrected: AlertBody | None = None) -> int:
    """The most hops the editor offers: the member's choice while her report is kept,
    and for a correction never more than the corrected alert's (which is all that is
    left of her choice once the report is purged; the service enforces it too)."""
    cap = MAX_HOPS
    if report is not None:
        member_cap = SHARE_HOPS_CAP.get(report.content.get("share", "no"))
        cap = MAX_HOPS if member_cap is None else member_cap
    if corrected is not None:
        cap = min(cap, corrected.hops)
    return cap


def _report_country(form: Form, report: Report | None, phone_region: str) -> str:
    """The country the redaction helper reads numbers in: the alert's region (as typed),
    else the report's, else the node's phone_region. Its suggestions are international
    numbers, so the indicator fields accept them whatever the node's own country."""
    region = form.values.get("region") or (report.content.get("region") if report else "")
    return phone_country(region if isinstance(region, str) else "", phone_region)


def _read_indicators(form: Form, t: Translator, region: str) -> list[tuple[str, str]]:
    from protocol.errors import ProtocolError
    from protocol.indicators import normalise

    pairs: list[tuple[str, str]] = []
    for kind in INDICATOR_KINDS:
        raw = form.text(kind, required=False, max_chars=MAX_INDICATOR_FIELD_CHARS, multiline=True)
        for number, line in enumerate(raw.splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            try:
                normalise(kind, line, region)
            except ProtocolError:
                message = indicator_error(t, kind, line, region)
                form.error(kind, t.gettext("Line %(n)d: %(error)s", n=number, error=message))
                break
            pairs.append((kind, line))
    if len(pairs) > MAX_INDICATORS:
        form.error("other", t.gettext("At most %(n)d identifiers in one alert.", n=MAX_INDICATORS))
    return pairs


def _read_draft(
    request: web.Request, form: Form, cap: int, supersedes: bytes | None
) -> Draft | None:
    t = translator(request)
    settings = unlocked(request).settings
    categories = form.choices("categories", CATEGORIES, minimum=1, maximum=MAX_CATEGORIES)
    danger = form.choice("danger", DANGER_CHOICES)
    region = form.region("region", settings["regions"])
    incident = form.date("incident", today=today(request), max_age_days=MAX_INCIDENT_AGE_DAYS)
    indicators = _read_indicators(form, t, settings["phone_region"])
    description = form.text(
        "description", required=False, max_chars=MAX_DESCRIPTION_CHARS, multiline=True
    )
    lang = form.choice("lang", LANGUAGES)
    translation_lang = form.choice("translation_lang", LANGUAGES, required=False)
    translation = form.text(
        "translation", required=False, max_chars=MAX_DESCRIPTION_CHARS, multiline=True
    )
    hops = form.integer("hops", 0, cap)
    tlp = form.choice("tlp", TLP_LABELS)
    partner_checks = form.flag("partner_checks")
    expires_days = form.integer("expires_days", 1, 365)
    # One random key per form, carried through previews: a double-submitted publish
    # returns the first alert instead of making a second one.
    key = form.text("idempotency", required=False, max_chars=64) or None
    if not form.ok or hops is None or expires_days is None:
        return None
    return Draft(
        categories=categories,
        danger=int(danger),
        region=region,
        indicators=indicators,
        description=description,
        # On the wire a language is a BCP 47 tag (zh-Hans), never a catalogue code.
        lang=html_lang(lang),
        hops=0 if tlp == "RED" else hops,
        tlp=tlp,
        expires_days=expires_days,
        incident=incident,
        supersedes=supersedes,
        translations=[(html_lang(translation_lang), translation)]
        if translation_lang and translation
        else [],
        partner_checks=partner_checks,
        idempotency_key=key,
    )


def _apply_fixes(data: MultiDict[Any]) -> None:
    """Move flagged identifiers into indicator fields, or remove them, as ticked."""
    description = data.get("description", "")
    if not isinstance(description, str):
        return
    for i in range(MAX_FINDINGS):
        found, fix = data.get(f"find_{i}"), data.get(f"fix_{i}")
        kind, suggestion = data.get(f"kind_{i}"), data.get(f"sugg_{i}")
        if not all(isinstance(v, str) for v in (found, fix, kind, suggestion)):
            continue
        if fix not in ("move", "remove") or kind not in INDICATOR_KINDS or not found:
            continue
        description = remove_text(description, found)
        if fix == "move":
            existing = data.get(kind, "")
            existing = existing if isinstance(existing, str) else ""
            data[kind] = (existing.strip() + "\n" + str(suggestion)).strip()
    data["description"] = description


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
        _report_country(form, report, settings["phone_region"]),
    )
    return render(
        request,
        "editor.html",
        status=status,
        form=form,
        report=report,
        supersedes=supersedes.hex() if supersedes else None,
        action=action,
        cap=_cap(report, corrected),
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
    form = Form(_initial_from_report(report, settings), translator(request))
    form.values = _initial_from_report(report, settings)
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
    form.values = _initial_from_alert(body, report, settings)
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
        _apply_fixes(data)
    form = Form(MultiDictProxy(data), t)
    draft = _read_draft(request, form, _cap(report, corrected), supersedes)
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
