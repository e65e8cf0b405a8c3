"""Members vouching for newcomers (issue 13 item 13): a member makes a member invite for
someone she knows, a few a month, when the admin allows it.

Rule: nothing here records or logs who made an invite: the store keeps only a keyed
monthly count per member and an unattributed invite (node/store/vouches.py), no audit
line is written, and the code is shown once to the member who made it (carried to the
page after the redirect in her session's one-off notice, never in a URL).
"""

from __future__ import annotations

from aiohttp import web

from ..errors import Forbidden
from .context import host, need, redirect_done, render, take_notice, translator, unlocked
from .i18n import N_

SETTING = "member_invites_per_month"
MADE = N_(
    "Your new invite code, shown only now: %(code)s. Give it privately to the person "
    "you vouch for; it works once."
)


def _allowed(request: web.Request) -> int:
    allowed = int(unlocked(request).settings[SETTING])
    if allowed <= 0:
        raise web.HTTPNotFound()
    return allowed


async def invite_page(request: web.Request) -> web.Response:
    me = need(request)
    allowed = _allowed(request)
    used = await unlocked(request).store.vouches.used(me.member_id, host(request).clock.now())
    return render(
        request,
        "vouch.html",
        allowed=allowed,
        left=max(0, allowed - used),
        done=take_notice(request),
        error="",
    )


async def create_invite(request: web.Request) -> web.Response:
    me = need(request)
    allowed = _allowed(request)
    parts = unlocked(request)
    now = host(request).clock.now()
    expires = now + int(parts.settings["invite_expiry_days"]) * 86400
    try:
        code = await parts.store.vouches.create(me.member_id, allowed, expires, now)
    except Forbidden:
        t = translator(request)
        return render(
            request,
            "vouch.html",
            status=403,
            allowed=allowed,
            left=0,
            done="",
            error=t.gettext("You have made all your invites for this month."),
        )
    # Post-redirect-get: a reload shows the page again and makes no second invite.
    return redirect_done(request, "/invite", translator(request).gettext(MADE, code=code))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/invite", invite_page, name="vouch")
    router.add_post("/invite", create_invite, name="vouch_create")
