"""The member's notification page: how alerts reach her, and taking that back.

Rule: every choice travels in a POST body, never a URL; her address is shown back to
her only as its last characters (someone may look over her shoulder), is sealed at
rest (node/store/notify.py) and never logged; removing a subscription removes what
is queued for it at once. Opting in to alert content needs a tick under a plain
warning about lock screens and message history; without it a message is the
organisation's content-free notice.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ..errors import NotFound, UsageError
from ..notify import channels as channel_kinds
from ..notify.errors import NotifyError
from .context import need, redirect_done, render, take_notice, translator, unlocked
from .forms import Form
from .i18n import DANGER_LABELS, LANGUAGES, N_
from .travel import region_choices

log = logging.getLogger(__name__)

PATH = "/account/notifications"
SHOWN_ADDRESS_CHARS = 4
DONE = {
    "added": N_("Done. New alerts will reach you this way."),
    "removed": N_("Removed. Nothing more will be sent to that address."),
}
MODES = ("immediate", "digest")


def masked(address: str) -> str:
    """The last few characters of an address, the rest hidden."""
    return "…" + address[-SHOWN_ADDRESS_CHARS:]


async def _page(request: web.Request, form: Form | None = None, status: int = 200) -> web.Response:
    me = need(request)
    t = translator(request)
    parts = unlocked(request)
    chosen = await parts.store.notify.member_subscriptions(me.member_id)
    available = await parts.store.notify.channels()
    own, travel = await region_choices(request)
    if form is None:
        form = Form({}, t)
        form.values.update({"min_danger": "2", "mode": "immediate", "lang": t.lang})
    return render(
        request,
        "notifications.html",
        status=status,
        form=form,
        subscriptions=[_shown(s) for s in chosen],
        channel_options=[(c.name, c.name) for c in available],
        region_options=[(r, r) for r in [*own, *travel]],
        danger_options=[(str(n), t.danger(n)) for n in sorted(DANGER_LABELS) if n],
        language_options=list(LANGUAGES.items()),
        done=DONE.get(take_notice(request), ""),
    )


def _shown(sub: Any) -> dict[str, Any]:
    return {
        "id": sub.id,
        "channel": sub.channel,
        "address": masked(sub.address),
        "regions": sub.regions,
        "min_danger": sub.min_danger,
        "digest": sub.digest,
        "lang": sub.lang,
        "content": sub.content,
    }


async def notifications_page(request: web.Request) -> web.Response:
    return await _page(request)


async def add_subscription(request: web.Request) -> web.Response:
    me = need(request)
    t = translator(request)
    parts = unlocked(request)
    form = Form(await request.post(), t)
    names = [c.name for c in await parts.store.notify.channels()]
    own, travel = await region_choices(request)
    channel = form.choice("channel", names)
    address = form.text("address", max_chars=channel_kinds.MAX_ADDRESS_CHARS, keep=False)
    regions = form.choices("region", [*own, *travel], minimum=0, maximum=50)
    danger = form.choice("min_danger", ("1", "2", "3"))
    mode = form.choice("mode", MODES)
    lang = form.choice("lang", LANGUAGES)
    content = form.flag("content")
    if form.ok:
        try:
            channel_kinds.check_address(address)
        except NotifyError:
            form.error("address", t.gettext("Enter the address without spaces."))
    if not form.ok:
        return await _page(request, form, status=400)
    prefs = {
        "address": address.strip(),
        "regions": regions,
        "min_danger": int(danger),
        "digest": mode == "digest",
        "lang": lang,
        "content": content,
    }
    try:
        await parts.store.notify.subscribe(me.member_id, channel, prefs)
    except (NotFound, UsageError):
        form.error("channel", t.gettext("You cannot add another way to be told here."))
        return await _page(request, form, status=400)
    return redirect_done(request, PATH, "added")


async def remove_subscription(request: web.Request) -> web.Response:
    me = need(request)
    form = Form(await request.post(), translator(request))
    raw = form.hidden("subscription") or ""
    try:
        await unlocked(request).store.notify.unsubscribe(me.member_id, int(raw))
    except (ValueError, NotFound):
        raise web.HTTPNotFound() from None
    return redirect_done(request, PATH, "removed")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PATH, notifications_page)
    router.add_post(PATH, add_subscription)
    router.add_post(PATH + "/remove", remove_subscription)
