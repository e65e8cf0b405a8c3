"""Pages for partner platforms' traffic (issue 15, point 3): the caseworkers' partner
reports (answer with a recommendation; pass on a member's complaint about a platform),
the join page a referral code opens, and the admins' membership requests.

Rule: a partner sees only what the caseworker writes (a recommendation and its note,
or a complaint's text), never a member's nickname, id or report; a referral code
never makes a member by itself: it opens a request an admin approves or declines,
and the admin sees how many joined per partner, never which request came from which
partner. Every answer, complaint and decision is audited by actor id and role.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ..errors import NotFound, UsageError
from ..partners import ACTIONS, MAX_NOTE_CHARS, for_node
from ..store.members import hash_passphrase
from .accounts import _admitted, _new_passphrase, _nickname, _render_form
from .context import (
    client,
    host,
    need,
    redirect_done,
    render,
    state,
    take_notice,
    translator,
    unlocked,
)
from .forms import Form
from .i18n import N_, Translator

log = logging.getLogger(__name__)

ACTION_LABELS = {
    "remove": N_("Remove the account"),
    "warn": N_("Warn the account holder"),
    "monitor": N_("Monitor the account"),
    "none": N_("No action"),
}
REPORT_STATUS_LABELS = {
    "received": N_("received"),
    "reviewing": N_("being reviewed"),
    "answered": N_("answered"),
}
DONE = {
    "answered": N_("The recommendation is recorded; the partner can read it now."),
    "answered-webhook": N_("The recommendation is recorded and was delivered to the partner."),
    "complaint": N_("The complaint is passed on to the partner, without the member's identity."),
    "approved": N_("The request is approved; the new member can log in."),
    "declined": N_("The request is declined and deleted."),
}


def _status_label(t: Translator, status: str) -> str:
    return t.gettext(REPORT_STATUS_LABELS.get(status, status))


async def _audit(request: web.Request, role: str, action: str, **fields: Any) -> None:
    me = need(request, role)
    entry = {"actor": me.member_id, "role": me.role, "action": action, **fields}
    await unlocked(request).store.audit.append(host(request).clock.now(), entry)


def _done(request: web.Request) -> str:
    done = DONE.get(take_notice(request), "")
    return translator(request).gettext(done) if done else ""


# --- caseworkers: partner reports ------------------------------------------------------


async def _names(request: web.Request) -> dict[int, str]:
    store = unlocked(request).store
    return {p.id: p.name for p in await store.partners.active()}


async def reports_page(request: web.Request, form: Form | None = None) -> web.Response:
    need(request, "caseworker")
    store = unlocked(request).store
    reports = [r for r in await store.partners.reports() if r.content.get("kind") != "complaint"]
    t = translator(request)
    return render(
        request,
        "partner_reports.html",
        status=400 if form is not None and not form.ok else 200,
        reports=reports,
        partners=await _names(request),
        status_label=lambda s: _status_label(t, s),
        form=form or Form({}, t),
        done=_done(request),
    )


async def _report(request: web.Request) -> Any:
    try:
        return await unlocked(request).store.partners.report(int(request.match_info["id"]))
    except (ValueError, NotFound):
        raise web.HTTPNotFound() from None


async def report_page(request: web.Request, form: Form | None = None) -> web.Response:
    need(request, "caseworker")
    report = await _report(request)
    if report.content.get("kind") == "complaint":
        raise web.HTTPNotFound()
    service = for_node(unlocked(request), host(request).clock)
    await service.mark_reviewing(report)
    t = translator(request)
    return render(
        request,
        "partner_report.html",
        status=400 if form is not None and not form.ok else 200,
        report=report,
        partner=(await _names(request)).get(report.partner_id, ""),
        actions=[(a, t.gettext(ACTION_LABELS[a])) for a in ACTIONS],
        action_label=lambda a: t.gettext(ACTION_LABELS[a]) if a in ACTION_LABELS else a,
        form=form or Form({}, t),
        status_label=lambda s: _status_label(t, s),
    )


async def answer(request: web.Request) -> web.Response:
    need(request, "caseworker")
    report = await _report(request)
    t = translator(request)
    form = Form(await request.post(), t)
    action = form.choice("action", ACTIONS)
    note = form.text("note", required=False, max_chars=MAX_NOTE_CHARS, multiline=True)
    if not form.ok:
        return await report_page(request, form)
    service = for_node(unlocked(request), host(request).clock)
    delivered = await service.answer(report.id, action, note)
    await _audit(request, "caseworker", "partner answer", partner=report.partner_id)
    return redirect_done(
        request, "/review/partners", "answered-webhook" if delivered else "answered"
    )


async def complaint(request: web.Request) -> web.Response:
    """Pass a member's complaint about a platform to that partner, in the caseworker's
    words, with nothing that names the member."""
    need(request, "caseworker")
    t = translator(request)
    form = Form(await request.post(), t)
    names = await _names(request)
    picked = form.choice("partner", [str(i) for i in names])
    text = form.text("text", max_chars=MAX_NOTE_CHARS, multiline=True)
    if not form.ok:
        return await reports_page(request, form)
    service = for_node(unlocked(request), host(request).clock)
    await service.complaint(int(picked), text)
    await _audit(request, "caseworker", "partner complaint", partner=int(picked))
    return redirect_done(request, "/review/partners", "complaint")


# --- anyone with a referral code: the join page ----------------------------------------


async def join_page(request: web.Request) -> web.Response:
    return _render_form(request, "join.html", "signup", Form({}, translator(request)))


async def join(request: web.Request) -> web.Response:
    st, t = state(request), translator(request)
    store = unlocked(request).store
    form = Form(await request.post(), t)
    code = form.text("code", max_chars=64, required=True)
    nick = _nickname(form, t)
    passphrase = _new_passphrase(form, t)
    if not form.ok:
        return _render_form(request, "join.html", "signup", form, 400)
    refused = await _admitted(request, form, "signup")
    if refused:
        return _render_form(request, "join.html", "signup", form, refused)
    now = st.host.clock.now()
    per_client = client(request).key("signup")
    if per_client is not None and not st.limits.signup_client.take(per_client, now):
        form.error("code", t.gettext("Too many attempts. Wait a while and try again."))
        return _render_form(request, "join.html", "signup", form, 429)
    pass_hash = await st.host.hashes.run(hash_passphrase, passphrase)
    try:
        await store.partners.request_membership(
            code, {"nickname": nick, "pass_hash": pass_hash}, now
        )
    except NotFound:
        form.error("code", t.gettext("That code is not valid or has expired."))
        return _render_form(request, "join.html", "signup", form, 400)
    return render(request, "join.html", form=form, challenge=None, sent=True)


# --- admins: membership requests -------------------------------------------------------


async def requests_page(request: web.Request, message: str = "") -> web.Response:
    need(request, "admin")
    store = unlocked(request).store
    waiting = await store.partners.membership_requests()
    counts = await store.partners.referral_counts()
    partners = [(p.name, counts.get(p.id, {})) for p in await store.partners.active()]
    return render(
        request,
        "admin_requests.html",
        requests=[(rid, day, body["nickname"]) for rid, day, body in waiting],
        partners=partners,
        message=message,
        done=_done(request),
    )


async def decide(request: web.Request) -> web.Response:
    need(request, "admin")
    t = translator(request)
    store = unlocked(request).store
    form = Form(await request.post(), t)
    decision = form.choice("decision", ("approve", "decline"))
    try:
        request_id = int(request.match_info["id"])
        (found,) = [
            b for rid, _, b in await store.partners.membership_requests() if rid == request_id
        ]
    except ValueError:
        raise web.HTTPNotFound() from None
    if not form.ok:
        raise web.HTTPBadRequest()
    if decision == "approve":
        now = host(request).clock.now()
        invite = await store.members.create_invite("member", now + 3600, now)
        try:
            await store.members.redeem_invite(invite, found["nickname"], found["pass_hash"], now)
        except UsageError:
            return await requests_page(
                request, t.gettext("That nickname is taken now; decline the request.")
            )
    await store.partners.close_request(request_id, approved=decision == "approve")
    await _audit(request, "admin", f"membership request {decision}")
    return redirect_done(
        request, "/admin/requests", "approved" if decision == "approve" else "declined"
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/review/partners", reports_page, name="partner_reports_page")
    router.add_post("/review/partners/complaint", complaint, name="partner_complaint")
    router.add_get(r"/review/partners/{id:[0-9]{1,18}}", report_page, name="partner_report_page")
    router.add_post(r"/review/partners/{id:[0-9]{1,18}}", answer)
    router.add_get("/join", join_page, name="join")
    router.add_post("/join", join)
    router.add_get("/admin/requests", requests_page, name="admin_requests")
    router.add_post(r"/admin/requests/{id:[0-9]{1,18}}", decide, name="admin_request_decide")
