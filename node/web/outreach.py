"""Outreach reports (``/outreach/new``): a caseworker records a report for someone met
in person or by phone, who has no account, so that people the digital divide leaves
out are not left off the list.

Rule: an outreach report has no member and no name (the form has no field for one);
it holds the same fields as a member's report, how the person was met, and the
person's own sharing choice, which the caseworker must confirm she asked (the box is
required). It then waits in the same review queue and goes through the same review,
redaction and publishing as any report (node/web/caseworkers.py). Nothing about it is
logged; the audit log records that a caseworker recorded one.
"""

from __future__ import annotations

import logging

from aiohttp import web

from ..setting_kinds import N_
from .context import host, need, redirect_done, render, translator, unlocked
from .forms import Form
from .members import read_report, report_context
from .receipts import issue_receipt

log = logging.getLogger(__name__)

MET = {"in-person": N_("In person"), "phone": N_("By phone")}


def _page(request: web.Request, form: Form) -> web.Response:
    return render(
        request,
        "outreach.html",
        status=200 if form.ok else 400,
        met=[(k, translator(request).gettext(v)) for k, v in MET.items()],
        **report_context(request, form),
    )


async def outreach_page(request: web.Request) -> web.Response:
    need(request, "caseworker")
    return _page(request, Form({}, translator(request)))


async def outreach_report(request: web.Request) -> web.Response:
    me = need(request, "caseworker")
    t = translator(request)
    parts = unlocked(request)
    form = Form(await request.post(), t)
    content = read_report(request, form)
    met = form.choice("met", MET)
    if not form.flag("asked"):
        form.error(
            "asked",
            t.gettext(N_("Ask the person whether we may warn others, and tick this box.")),
        )
    if not form.ok:
        return _page(request, form)
    content.update({"source": "outreach", "met": met, "share_asked": True})
    now = host(request).clock.now()
    report_id = await parts.store.reports.create(None, content, now)
    entry = {"actor": me.member_id, "role": me.role, "action": "outreach", "report": report_id}
    await parts.store.audit.append(now, entry)
    # The person has no account to keep a receipt in: the caseworker is shown its
    # code once, on the review page, to write down or print for them. Like a member's,
    # it is held in memory under this session until shown, and stored nowhere.
    issue_receipt(request, content)
    return redirect_done(request, "/review", "outreach")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/outreach/new", outreach_page, name="outreach")
    router.add_post("/outreach/new", outreach_report)
