"""The caseworkers' area warning form (``/warnings/new``): a warning that names no
person, published with node/warnings.py.

Rule: the page exists only while the organisation offers area warnings (the
``area_warnings`` setting; otherwise 404, as for any page that is not there); the
form has no field for an identifier, and the warning is signed only through
``publish_warning``. A published warning is retracted from the caseworkers'
"Published" page like any alert.
"""

from __future__ import annotations

import logging

from aiohttp import web

from protocol.fields import DANGER_LEVELS
from protocol.limits import MAX_DESCRIPTION_CHARS
from protocol.warning import DEFAULT_WARNING_DAYS, WARNING_KINDS

from ..errors import UsageError
from ..warnings import KIND_LABELS, MAX_WARNING_DAYS, publish_warning, warning_draft
from .context import host, need, redirect_done, render, translator, unlocked
from .forms import Form

log = logging.getLogger(__name__)


def _offered(request: web.Request) -> None:
    if not unlocked(request).settings["area_warnings"]:
        raise web.HTTPNotFound()


def _page(request: web.Request, form: Form) -> web.Response:
    t = translator(request)
    return render(
        request,
        "warning_form.html",
        status=200 if form.ok else 400,
        form=form,
        kinds=[(k, t.gettext(KIND_LABELS[k])) for k in WARNING_KINDS],
        levels=[str(d) for d in DANGER_LEVELS],
        regions=unlocked(request).settings["regions"],
        region_options=[(r, r) for r in unlocked(request).settings["regions"]],
        max_days=MAX_WARNING_DAYS,
        max_chars=MAX_DESCRIPTION_CHARS,
    )


async def new_warning(request: web.Request) -> web.Response:
    need(request, "caseworker")
    _offered(request)
    form = Form({}, translator(request))
    form.values = {"expires_days": str(DEFAULT_WARNING_DAYS), "danger": "2"}
    return _page(request, form)


async def submit_warning(request: web.Request) -> web.Response:
    me = need(request, "caseworker")
    _offered(request)
    parts = unlocked(request)
    t = translator(request)
    form = Form(await request.post(), t)
    kind = form.choice("kind", WARNING_KINDS)
    danger = form.choice("danger", [str(d) for d in DANGER_LEVELS])
    region = form.region("region", list(parts.settings["regions"]))
    description = form.text(
        "description", required=False, max_chars=MAX_DESCRIPTION_CHARS, multiline=True
    )
    days = form.integer("expires_days", 1, MAX_WARNING_DAYS, default=DEFAULT_WARNING_DAYS)
    if not form.ok:
        return _page(request, form)
    draft = warning_draft(kind, int(danger), region, description, days, lang=t.lang)
    try:
        warning_id = await publish_warning(parts.alerts, parts.settings, draft)
    except UsageError as exc:
        form.error("description", exc.message)
        return _page(request, form)
    entry = {"actor": me.member_id, "role": me.role, "action": "warning", "alert": warning_id.hex()}
    await parts.store.audit.append(host(request).clock.now(), entry)
    log.info("published an area warning")
    return redirect_done(request, "/published", "published")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/warnings/new", new_warning, name="new_warning")
    router.add_post("/warnings/new", submit_warning)
