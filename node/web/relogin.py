"""Logging in again without losing a form: keeping what a form sent after its session
was lost carried, and handing it to the session that logs in next.

Rule: only ``keep_posted`` keeps a form, and only under the conditions of
node/web/kept.py (same origin, one of the app's own pages that needs a session, no
valid session, text fields only); only ``claim`` gives it back, to a session of the
member it belonged to (or of anyone, when that was no longer known), as the page to
return to. Nothing kept is ever sent again by the node: the member sends it herself.
"""

from __future__ import annotations

import logging

from aiohttp import web

from .context import client, state, visit
from .kept import (
    KEPT_COOKIE,
    NOT_KEPT_PAGES,
    PUBLIC_FORMS,
    KeptForm,
    keepable_fields,
    same_origin,
)

log = logging.getLogger(__name__)


async def keep_posted(request: web.Request, owner: int | None) -> bool:
    """Keep the fields of this refused POST (its CSRF check failed and it has no
    session) when it may be kept; True when it was, with its cookie set. ``owner`` is
    the member of the session that just timed out, if the request named one."""
    path = request.path
    if path in PUBLIC_FORMS or path in NOT_KEPT_PAGES:
        return False
    st = state(request)
    if st.pages.target(path) != path or not same_origin(request):
        return False
    fields = keepable_fields(await request.post())
    if fields is None:
        return False
    now = st.host.clock.now()
    kept = KeptForm(path, fields, owner, client(request).key("kept-form"), now)
    old = request.cookies.get(KEPT_COOKIE) or None
    visit(request).set_kept = st.kept.keep(kept, now, replaces=old)
    log.debug("a form sent after its session was lost was kept")
    return True


def claim(request: web.Request, member_id: int) -> str:
    """After a successful log-in: hand this browser's kept form (if any, and if it was
    this member's or nobody's known) to the new session and return its page; else "/"."""
    ref = request.cookies.get(KEPT_COOKIE)
    v = visit(request)
    if not ref:
        return "/"
    v.set_kept = ""
    st = state(request)
    kept = st.kept.take(ref, st.host.clock.now())
    if kept is None or v.session is None or kept.owner not in (None, member_id):
        return "/"
    target = st.pages.target(kept.path)
    if target != kept.path:
        return "/"
    v.session.kept = kept
    return target
