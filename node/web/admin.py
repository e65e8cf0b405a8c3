"""Admin pages: the trust list, members and invites, the audit log, node settings.

Rule: only admins reach these pages. An invite code is shown once, on the page that
answers its creation (never in a URL); the audit log shows member ids and roles,
never nicknames; a setting is saved only when every value on the form is valid.
The trust list reads the peers as ``alertnode peer list`` shows them and changes them
through federation's control commands (``federation_actions``).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ..errors import NodeError, NotFound, UsageError
from ..settings import SETTINGS, validate
from ..store.members import ROLES
from .app import need, redirect, render, state, translator
from .forms import Form

log = logging.getLogger(__name__)

ACCEPT_MODES = ("none", "direct", "relay")
MAX_CARD_CHARS = 4000
MAX_AUDIT_ENTRIES = 500


async def trust_list(node: Any) -> list[dict[str, Any]]:
    """The peers of this node with their sync status (as ``alertnode peer list``)."""
    if getattr(node, "peering", None) is None:
        return []
    peers: list[dict[str, Any]] = await node.require_peering().list_peers()
    return peers


def federation_actions() -> dict[str, Any]:
    """The control commands federation registers for changing the trust list, if any."""
    from ..commands import control

    return {
        name: control.COMMANDS[name]
        for name in ("peer.add", "peer.set", "peer.remove")
        if name in control.COMMANDS
    }


async def trust_page(request: web.Request, message: str = "", status: int = 200) -> web.Response:
    need(request, "admin")
    node = state(request).node
    return render(
        request,
        "admin_trust.html",
        status=status,
        peers=await trust_list(node),
        actions=federation_actions(),
        accept_modes=ACCEPT_MODES,
        message=message,
        form=Form({}, translator(request)),
    )


async def trust_change(request: web.Request) -> web.Response:
    """Add a peer from a card, change a peer's policy, or remove one (via federation)."""
    need(request, "admin")
    t = translator(request)
    node = state(request).node
    actions = federation_actions()
    form = Form(await request.post(), t)
    op = form.choice("op", ("add", "set", "remove"))
    if not form.ok:
        return await trust_page(request, t.gettext("Choose what to do."), 400)
    args: dict[str, Any]
    if op == "add":
        card = form.text("card", max_chars=MAX_CARD_CHARS)
        accept = form.choice("accept", ACCEPT_MODES)
        args = {"card": card, "accept": accept, "share": form.flag("share")}
    else:
        key = form.text("key", max_chars=128)
        args = {"peer": key}
        if op == "set":
            args["accept"] = form.choice("accept", ACCEPT_MODES)
            args["share"] = form.flag("share")
            args["suspended"] = form.flag("suspended")
        elif form.flag("purge"):
            args["purge"] = True
    if not form.ok:
        problems = "; ".join(f"{k}: {v}" for k, v in form.errors.items())
        return await trust_page(request, problems, 400)
    command = actions.get(f"peer.{op}")
    if command is None:
        return await trust_page(
            request, t.gettext("Federation is not available on this node yet."), 400
        )
    try:
        await command(node, args)
    except NodeError as exc:
        return await trust_page(request, exc.message, exc.status)
    return redirect("/admin/trust")


async def members_page(
    request: web.Request, *, code: str = "", form: Form | None = None, status: int = 200
) -> web.Response:
    need(request, "admin")
    node = state(request).node
    store, _, settings = node.require()
    return render(
        request,
        "admin_members.html",
        status=status,
        members=await store.members.list(),
        invites=await store.members.list_invites(node.clock.now()),
        roles=ROLES,
        code=code,
        form=form or Form({"days": str(settings["invite_expiry_days"])}, translator(request)),
        default_days=settings["invite_expiry_days"],
    )


async def create_invite(request: web.Request) -> web.Response:
    need(request, "admin")
    node = state(request).node
    store, _, _ = node.require()
    form = Form(await request.post(), translator(request))
    role = form.choice("role", ROLES)
    days = form.integer("days", 1, 365)
    if not form.ok or days is None:
        return await members_page(request, form=form, status=400)
    now = node.clock.now()
    code = await store.members.create_invite(role, now + days * 86400, now)
    return await members_page(request, code=code, form=form)


async def revoke_member(request: web.Request) -> web.Response:
    me = need(request, "admin")
    st = state(request)
    store, _, _ = st.node.require()
    member_id = int(request.match_info["id"])
    if member_id == me.member_id:
        raise UsageError("you cannot revoke yourself; ask another admin")
    try:
        await store.members.revoke(member_id)
    except NotFound:
        raise web.HTTPNotFound() from None
    st.sessions.drop_member(member_id)
    log.info("member %d revoked", member_id)
    return redirect("/admin/members")


async def audit_page(request: web.Request) -> web.Response:
    need(request, "admin")
    store, _, _ = state(request).node.require()
    return render(request, "admin_audit.html", entries=await store.audit.list(MAX_AUDIT_ENTRIES))


def _settings_rows(values: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for s in SETTINGS:
        value = values.get(s.name, s.default)
        shown = " ".join(value) if isinstance(value, list) else str(value)
        rows.append(
            {"name": s.name, "help": s.help, "value": shown, "lo": s.minimum, "hi": s.maximum}
        )
    return rows


async def settings_page(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    saved: bool = False,
) -> web.Response:
    need(request, "admin")
    _, _, settings = state(request).node.require()
    return render(
        request,
        "admin_settings.html",
        status=400 if errors else 200,
        rows=_settings_rows(values or settings.as_dict()),
        errors=errors or {},
        saved=saved or request.query.get("done") == "saved",
    )


async def save_settings(request: web.Request) -> web.Response:
    need(request, "admin")
    st = state(request)
    store, _, settings = st.node.require()
    form = Form(await request.post(), translator(request))
    raw: dict[str, Any] = {}
    clean: dict[str, Any] = {}
    for s in SETTINGS:
        raw[s.name] = form.text(s.name, required=False, max_chars=1000)
        try:
            clean[s.name] = validate(s.name, raw[s.name])
        except UsageError as exc:
            form.error(s.name, exc.message)
    if not form.ok:
        return await settings_page(request, errors=form.errors, values=raw)
    for name, value in clean.items():
        if value != settings[name]:
            settings.set(name, value)
            await store.settings.put(name, value)
    return redirect("/admin/settings?done=saved")


async def admin_home(request: web.Request) -> web.Response:
    need(request, "admin")
    return redirect("/admin/members")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin", admin_home, name="admin")
    router.add_get("/admin/trust", trust_page, name="admin_trust")
    router.add_post("/admin/trust", trust_change)
    router.add_get("/admin/members", members_page, name="admin_members")
    router.add_post("/admin/invites", create_invite, name="admin_invites")
    # Row ids are SQLite's 64-bit integers: a longer run of digits is no page (not a 500).
    router.add_post(r"/admin/members/{id:[0-9]{1,18}}/revoke", revoke_member, name="admin_revoke")
    router.add_get("/admin/audit", audit_page, name="admin_audit")
    router.add_get("/admin/settings", settings_page, name="admin_settings")
    router.add_post("/admin/settings", save_settings)
