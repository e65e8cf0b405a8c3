"""The admin's totals page for funders (``/admin/totals``): the quarterly totals of
node/totals.py, with the text on why the organisation holds no names, to print or
save as a text file.

Rule: the page shows only what ``node.totals.report`` gives (quarters, counts under 5
hidden); the months asked for travel in the POST body, and the saved file holds the
same figures and text as the page.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..errors import UsageError
from ..setting_kinds import N_
from ..totals import FUNDER_TEXT, report
from .context import host, need, render, translator, unlocked
from .forms import Form

# The labels of a period's figures, in the page's order (marked for translation).
LABELS = (
    ("members", N_("Members")),
    ("new_members", N_("New members")),
    ("checks", N_("Checks")),
    ("reports", N_("Reports")),
    ("alerts_published", N_("Alerts published")),
    ("warnings_published", N_("Area warnings published")),
    ("alerts_received", N_("Alerts received from other organisations")),
)


async def _render(request: web.Request, form: Form, first: str | None, last: str | None) -> Any:
    t = translator(request)
    parts = unlocked(request)
    result: dict[str, Any] | None = None
    if form.ok:
        try:
            await parts.alerts.flush_counts()
            result = await report(parts.store, host(request).clock.now(), first, last)
        except UsageError as exc:
            form.error("from", exc.message)
    if result is not None and form.values.get("save") == "file":
        lines = [t.gettext(FUNDER_TEXT), ""]
        for period in result["periods"]:
            lines.append(f"{period['period']} ({period['first_month']} to {period['last_month']})")
            for key, label in LABELS:
                value = period[key]
                shown = t.gettext(N_("fewer than 5")) if isinstance(value, str) else str(value)
                lines.append(f"  {t.gettext(label)}: {shown}")
            lines.append("")
        return web.Response(
            text="\n".join(lines),
            content_type="text/plain",
            charset="utf-8",
            headers={"Content-Disposition": 'attachment; filename="totals.txt"'},
        )
    return render(
        request,
        "admin_totals.html",
        status=200 if form.ok else 400,
        form=form,
        result=result,
        labels=[(key, t.gettext(label)) for key, label in LABELS],
        funder_text=t.gettext(FUNDER_TEXT),
    )


async def totals_page(request: web.Request) -> web.Response:
    need(request, "admin")
    form = Form({}, translator(request))
    response: web.Response = await _render(request, form, None, None)
    return response


async def totals_chosen(request: web.Request) -> web.Response:
    need(request, "admin")
    form = Form(await request.post(), translator(request))
    first = form.text("from", required=False, max_chars=7) or None
    last = form.text("to", required=False, max_chars=7) or None
    form.values["save"] = form.text("save", required=False, max_chars=8)
    response: web.Response = await _render(request, form, first, last)
    return response


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/totals", totals_page, name="admin_totals")
    router.add_post("/admin/totals", totals_chosen)
