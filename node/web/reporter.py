"""A member's control over what she reported: withdrawing the alert made from her
report, and asking a caseworker for help; and the caseworker's side of both.

Rule: only a report's own member asks, and only about her report; an alert is
withdrawn only by a retraction the node signs with the reason ``reporter-request``,
at once or when a caseworker confirms (setting ``report_withdrawal``); a help request
and the messages about it stay sealed in the report's state on this node, shown only
to her and to caseworkers, and are never logged, audited by content or sent anywhere.
"""

from __future__ import annotations

import logging

from aiohttp import web

from ..errors import NotFound
from ..store import Report
from .context import error_page, host, need, redirect_done, translator, unlocked
from .forms import Form

log = logging.getLogger(__name__)

REPORTER_REASON = "reporter-request"
MAX_MESSAGE_CHARS = 2000
# A report whose alert may still be out there: withdrawing it needs a retraction.
PUBLISHED = "published"


async def _withdraw_now(request: web.Request, report: Report, actor: int, role: str) -> None:
    """Retract the alert made from ``report`` (if it is still up) and mark the report
    withdrawn. An alert already retracted, superseded away or expired has nothing
    left to retract: the report is marked all the same."""
    parts = unlocked(request)
    if report.status == PUBLISHED and report.alert_id is not None:
        try:
            await parts.alerts.retract(report.alert_id, REPORTER_REASON)
        except NotFound:
            pass
        else:
            entry = {
                "actor": actor,
                "role": role,
                "action": "retract",
                "alert": report.alert_id.hex(),
                "reason": REPORTER_REASON,
            }
            await parts.store.audit.append(host(request).clock.now(), entry)
    await parts.store.reports.set_status(report.id, "withdrawn")
    log.info("a report was withdrawn at its member's request")


# --- the member's side ---------------------------------------------------------------


async def _own_report(request: web.Request) -> Report:
    """Her report, or 404 (also for another member's: nothing says it exists)."""
    me = need(request)
    try:
        found = await unlocked(request).store.reports.get(int(request.match_info["id"]))
    except (ValueError, NotFound):
        raise web.HTTPNotFound() from None
    if found.member_id != me.member_id:
        raise web.HTTPNotFound()
    return found


async def withdraw(request: web.Request) -> web.Response:
    """She asks for the alert made from her report to be withdrawn. A report not yet
    published is withdrawn at once (no alert exists; it will not be published)."""
    me = need(request)
    report = await _own_report(request)
    parts = unlocked(request)
    # A retraction cannot be taken back: one tap on a small screen is not enough.
    if not Form(await request.post(), translator(request)).flag("sure"):
        return redirect_done(request, "/reports", "withdraw-unsure")
    if report.status == "withdrawn":
        return redirect_done(request, "/reports", "withdrawn")
    if report.status == PUBLISHED and parts.settings["report_withdrawal"] != "immediate":
        await parts.store.reports.set_requests(report.id, withdraw=True)
        return redirect_done(request, "/reports", "withdraw-asked")
    await _withdraw_now(request, report, me.member_id, me.role)
    return redirect_done(request, "/reports", "withdrawn")


async def ask_help(request: web.Request) -> web.Response:
    """She asks a caseworker to contact her through the node (``want=yes``, with an
    optional note), or says she no longer needs it (``want=no``)."""
    t = translator(request)
    need(request)
    report = await _own_report(request)
    form = Form(await request.post(), t)
    want = form.choice("want", ("yes", "no"))
    note = form.text("note", required=False, max_chars=MAX_MESSAGE_CHARS, multiline=True)
    if not form.ok:
        return error_page(request, 400, t.gettext("Your message is too long."))
    store = unlocked(request).store
    await store.reports.set_requests(report.id, help=want == "yes")
    if want == "yes" and note:
        await store.reports.add_message(report.id, "member", note, host(request).clock.now())
    return redirect_done(request, "/reports", "help-asked" if want == "yes" else "help-closed")


# --- the caseworker's side -----------------------------------------------------------


async def _report(request: web.Request) -> Report:
    store = unlocked(request).store
    try:
        return await store.reports.get(int(request.match_info["id"]))
    except (ValueError, NotFound):
        raise web.HTTPNotFound() from None


async def confirm_withdrawal(request: web.Request) -> web.Response:
    me = need(request, "caseworker")
    report = await _report(request)
    if not report.withdraw:
        raise web.HTTPNotFound()
    await _withdraw_now(request, report, me.member_id, me.role)
    return redirect_done(request, "/review", "withdrawn")


async def message(request: web.Request) -> web.Response:
    """A caseworker answers a help request; she reads it on her reports page. ``close``
    ends the request (the messages stay with the report)."""
    t = translator(request)
    need(request, "caseworker")
    report = await _report(request)
    form = Form(await request.post(), t)
    text = form.text("text", required=False, max_chars=MAX_MESSAGE_CHARS, multiline=True)
    close = form.flag("close")
    if not form.ok:
        return error_page(request, 400, t.gettext("Your message is too long."))
    store = unlocked(request).store
    if text:
        await store.reports.add_message(report.id, "caseworker", text, host(request).clock.now())
    if close:
        await store.reports.set_requests(report.id, help=False)
    return redirect_done(request, "/review", "answered")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post(r"/reports/{id:[0-9]{1,18}}/withdraw", withdraw, name="report_withdraw")
    router.add_post(r"/reports/{id:[0-9]{1,18}}/help", ask_help, name="report_help")
    router.add_post(
        r"/review/{id:[0-9]{1,18}}/withdraw", confirm_withdrawal, name="confirm_withdrawal"
    )
    router.add_post(r"/review/{id:[0-9]{1,18}}/message", message, name="report_message")
