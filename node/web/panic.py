"""The admin's panic-wipe button.

Rule: the wipe runs only for a logged-in admin who ticks the confirmation and types the
node passphrase (on a key-file node, which has none, their own passphrase), through a
CSRF-checked POST; every passphrase tried counts against the admin's login limit
before it is checked (a right one clears it), and on a passphrase node every guess at
the node passphrase counts, before it is checked, against the same global limit as
the unlock form. The answer is a neutral page, and the node stops: its keys and files
are gone (node.ops.wipe).
"""

from __future__ import annotations

import logging

from aiohttp import web

from ..store.members import passphrase_matches
from .context import host, need, render, state, translator, unlocked
from .forms import Form
from .ratelimit import EVERYONE, key_of

log = logging.getLogger(__name__)


async def wipe_page(request: web.Request) -> web.Response:
    need(request, "admin")
    return render(request, "admin_wipe.html", form=Form({}, translator(request)))


async def wipe_now(request: web.Request) -> web.Response:
    me = need(request, "admin")
    st, t = state(request), translator(request)
    node = host(request)
    form = Form(await request.post(), t)
    passphrase = form.secret("passphrase")
    if not form.flag("confirm"):
        form.error("confirm", t.gettext("Tick the box to confirm."))
    now = node.clock.now()
    account = key_of("login-account", me.nickname.casefold())
    limits = st.limits
    # Checked and counted before the slow check, with no await in between, so parallel
    # guesses cannot all pass: against the admin's own account, and on a passphrase
    # node as a guess at the node passphrase, counted for everyone together like the
    # unlock form's.
    global_ok = not node.has_passphrase or limits.node_passphrase.allowed(EVERYONE, now)
    attempt = limits.login_account.begin(account, now) if form.ok and global_ok else None
    if form.ok and attempt is None:
        form.refuse(t.gettext("Too many attempts. Wait a while and try again."))
    if attempt is not None:
        if node.has_passphrase:
            limits.node_passphrase.hit(EVERYONE, now)
        ok = False
        try:
            if node.has_passphrase:
                ok = await node.passphrase_opens(passphrase)
            else:
                store = unlocked(request).store
                _, pass_hash = await store.members.credentials(me.nickname)
                ok = await node.hashes.run(passphrase_matches, pass_hash, passphrase)
        finally:
            attempt.end(succeeded=ok)
        if not ok:
            form.error("passphrase", t.gettext("That passphrase is not right."))
    if not form.ok:
        return render(request, "admin_wipe.html", status=400, form=form)
    log.warning("panic wipe requested from the admin page")
    st.sessions.drop_member(me.member_id)
    st.kept.clear()
    await node.wipe()
    return web.Response(text="Done.\n", content_type="text/plain")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/wipe", wipe_page, name="admin_wipe")
    router.add_post("/admin/wipe", wipe_now)
