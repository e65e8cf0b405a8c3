"""Admin pages: the trust list, members and invites, the audit log, node settings.

Rule: only admins reach these pages. An invite code is shown once, on the page the
creation redirects to (kept in the session for that one page, never in a URL, so a
reload makes no second invite); removing a peer and revoking a member ask first
(``confirm``) and say what they did; the audit log shows member ids and roles,
never nicknames; a setting is saved only when every value on the form is valid.
The trust list is read and changed through the node's trust-list operations
(``unlocked(request).trust``), the same ones ``alertnode peer`` uses.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ..errors import NodeError, NotFound, UsageError
from ..setting_kinds import MAX_SETTING_CHARS, Choice
from ..settings import SETTINGS, validate
from ..store.members import ROLES
from ..warnings import setting_changed
from .confirm import ask, confirmed
from .context import (
    host,
    need,
    redirect,
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

ACCEPT_MODES = ("none", "direct", "relay")
# The trust forms' fields, by their labels on the page (a problem names the field).
TRUST_FIELDS = {
    "op": N_("What to do"),
    "card": N_("Their node card (paste the whole line)"),
    "accept": N_("Accept from them"),
    "key": N_("Which organisation"),
    "share": N_("Share our alerts with them"),
    "suspended": N_("Suspended"),
}
MAX_CARD_CHARS = 4000
MAX_AUDIT_ENTRIES = 500


# What the members and trust pages say after a redirect (``redirect_done``).
ADMIN_NOTICES = {
    "invite": N_("The invite is made. Its code is shown below, only this once."),
    "invite-revoked": N_("The invite is revoked: its code no longer works."),
    "revoked": N_("The member is revoked: they are logged out and can no longer log in."),
    "peer-removed": N_("The peer is removed from the trust list."),
    "peer-purged": N_(
        "The peer is removed from the trust list, and every alert it originated is deleted."
    ),
}


def _notice(request: web.Request) -> str:
    done = take_notice(request)
    return translator(request).gettext(ADMIN_NOTICES[done]) if done in ADMIN_NOTICES else ""


async def trust_page(request: web.Request, message: str = "", status: int = 200) -> web.Response:
    need(request, "admin")
    return render(
        request,
        "admin_trust.html",
        status=status,
        peers=await unlocked(request).trust.list_peers(),
        accept_modes=ACCEPT_MODES,
        message=message,
        done=_notice(request) if status == 200 and not message else "",
        form=Form({}, translator(request)),
    )


async def _ask_remove_peer(request: web.Request, data: Any, key: str, purge: bool) -> web.Response:
    t = translator(request)
    peers = await unlocked(request).trust.list_peers()
    names = [p["name"] for p in peers if p.get("key") == key]
    if not names:
        return await trust_page(request, t.gettext("There is no such peer."), 404)
    consequence = (
        N_(
            "This node stops syncing with it and deletes every alert it originated. "
            "Pairing again is needed to undo this, and the deleted alerts do not come back."
        )
        if purge
        else N_("This node stops syncing with it. Pairing again is needed to undo this.")
    )
    return ask(
        request,
        data,
        question=t.gettext("Remove %(name)s from the trust list?", name=names[0]),
        consequence=t.gettext(consequence),
        button=t.gettext("Remove the peer"),
        back="/admin/trust",
    )


async def trust_change(request: web.Request) -> web.Response:
    """Add a peer from a card, change a peer's policy, or remove one."""
    need(request, "admin")
    t = translator(request)
    trust = unlocked(request).trust
    data = await request.post()
    form = Form(data, t)
    op = form.choice("op", ("add", "set", "remove"))
    if not form.ok:
        return await trust_page(request, t.gettext("Choose what to do."), 400)
    if op == "add":
        card = form.text("card", max_chars=MAX_CARD_CHARS)
        accept = form.choice("accept", ACCEPT_MODES)
        share = form.flag("share")
    else:
        key = form.text("key", max_chars=128)
        if op == "set":
            accept = form.choice("accept", ACCEPT_MODES)
            share = form.flag("share")
            suspended = form.flag("suspended")
    if not form.ok:
        problems = " ".join(
            t.gettext("%(field)s: %(problem)s", field=t.gettext(TRUST_FIELDS.get(k, k)), problem=v)
            for k, v in form.errors.items()
        )
        return await trust_page(request, problems, 400)
    if op == "remove" and not confirmed(data):
        return await _ask_remove_peer(request, data, key, form.flag("purge"))
    try:
        if op == "add":
            await trust.add_peer(card, accept, share, None)
        elif op == "set":
            await trust.set_peer(key, accept=accept, share=share, suspended=suspended)
        else:
            await trust.remove_peer(key, form.flag("purge"))
    except NodeError as exc:
        return await trust_page(request, exc.message, exc.status)
    if op == "remove":
        done = "peer-purged" if form.flag("purge") else "peer-removed"
        return redirect_done(request, "/admin/trust", done)
    return redirect("/admin/trust")


async def members_page(
    request: web.Request, *, form: Form | None = None, status: int = 200
) -> web.Response:
    me = need(request, "admin")
    node = host(request)
    parts = unlocked(request)
    store, settings = parts.store, parts.settings
    code, me.shown_once = me.shown_once, ""
    return render(
        request,
        "admin_members.html",
        status=status,
        members=await store.members.list(),
        invites=await store.members.list_invites(node.clock.now()),
        roles=ROLES,
        code=code,
        done=_notice(request) if status == 200 else "",
        form=form or Form({"days": str(settings["invite_expiry_days"])}, translator(request)),
        default_days=settings["invite_expiry_days"],
        vouches=await store.vouches.totals(node.clock.now()),
        vouching=settings["member_invites_per_month"],
    )


async def create_invite(request: web.Request) -> web.Response:
    me = need(request, "admin")
    node = host(request)
    store = unlocked(request).store
    form = Form(await request.post(), translator(request))
    role = form.choice("role", ROLES)
    days = form.integer("days", 1, 365)
    if not form.ok or days is None:
        return await members_page(request, form=form, status=400)
    now = node.clock.now()
    me.shown_once = await store.members.create_invite(role, now + days * 86400, now)
    return redirect_done(request, "/admin/members", "invite")


async def revoke_invite(request: web.Request) -> web.Response:
    need(request, "admin")
    store = unlocked(request).store
    form = Form(await request.post(), translator(request))
    ref = form.text("invite", max_chars=128)
    try:
        await store.members.revoke_invite(ref)
    except NotFound:
        raise web.HTTPNotFound() from None
    log.info("an admin revoked an invite")
    return redirect_done(request, "/admin/members", "invite-revoked")


async def revoke_member(request: web.Request) -> web.Response:
    me = need(request, "admin")
    st = state(request)
    t = translator(request)
    store = unlocked(request).store
    member_id = int(request.match_info["id"])
    if member_id == me.member_id:
        raise UsageError("you cannot revoke yourself; ask another admin")
    data = await request.post()
    if not confirmed(data):
        try:
            member = await store.members.get(member_id)
        except NotFound:
            raise web.HTTPNotFound() from None
        return ask(
            request,
            data,
            question=t.gettext(
                "Revoke #%(number)d %(name)s (%(role)s)?",
                number=member.id,
                name=member.nickname,
                role=t.role_name(member.role),
            ),
            consequence=t.gettext(
                "They are logged out at once and can no longer log in. Their reports stay "
                "until they expire. To let them back in, give them a new invite."
            ),
            button=t.gettext("Revoke the member"),
            back="/admin/members",
        )
    try:
        await store.members.revoke(member_id)
    except NotFound:
        raise web.HTTPNotFound() from None
    st.sessions.drop_member(member_id)
    log.info("an admin revoked a member")
    return redirect_done(request, "/admin/members", "revoked")


# The audit log's actions in words (an unknown one is shown as it was written).
AUDIT_ACTIONS = {
    "publish": N_("published an alert"),
    "retract": N_("retracted an alert"),
    "decline": N_("declined a report"),
    "edit text": N_("edited one of the organisation's texts"),
}


async def audit_page(request: web.Request) -> web.Response:
    need(request, "admin")
    store = unlocked(request).store
    t = translator(request)
    return render(
        request,
        "admin_audit.html",
        entries=await store.audit.list(MAX_AUDIT_ENTRIES),
        audit_action=lambda code: t.gettext(AUDIT_ACTIONS[code]) if code in AUDIT_ACTIONS else code,
    )


def _settings_rows(values: dict[str, Any], t: Translator) -> list[dict[str, Any]]:
    """The table's rows for the form: the key only as the field's name; people read
    the label, the help and what values are allowed, in their language."""
    return [
        {
            "name": s.name,
            "label": t.gettext(s.label),
            "help": t.gettext(s.help),
            "allowed": s.kind.describe(t.gettext),
            "value": s.kind.show(values.get(s.name, s.default)),
            # A closed choice is a list of answers in words, not a key to type.
            "options": (
                [(o, t.gettext(w)) for o, w in zip(s.kind.options, s.kind.labels, strict=True)]
                if isinstance(s.kind, Choice)
                else []
            ),
        }
        for s in SETTINGS
    ]


async def settings_page(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    saved: bool = False,
) -> web.Response:
    need(request, "admin")
    settings = unlocked(request).settings
    return render(
        request,
        "admin_settings.html",
        status=400 if errors else 200,
        rows=_settings_rows(values or settings.as_dict(), translator(request)),
        errors=errors or {},
        saved=saved or take_notice(request) == "saved",
    )


async def save_settings(request: web.Request) -> web.Response:
    need(request, "admin")
    parts = unlocked(request)
    store, settings = parts.store, parts.settings
    t = translator(request)
    form = Form(await request.post(), t)
    raw: dict[str, Any] = {}
    clean: dict[str, Any] = {}
    for s in SETTINGS:
        raw[s.name] = form.text(s.name, required=False, max_chars=MAX_SETTING_CHARS)
        if s.name in form.errors:
            continue
        try:
            clean[s.name] = validate(s.name, raw[s.name], t.gettext)
        except UsageError as exc:
            form.error(s.name, exc.message)
    if not form.ok:
        return await settings_page(request, errors=form.errors, values=raw)
    for name, value in clean.items():
        if value != settings[name]:
            settings.set(name, value)
            await store.settings.put(name, value)
            await setting_changed(store.alerts, name, value)
    return redirect_done(request, "/admin/settings", "saved")


async def admin_home(request: web.Request) -> web.Response:
    need(request, "admin")
    return redirect("/admin/members")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin", admin_home, name="admin")
    router.add_get("/admin/trust", trust_page, name="admin_trust")
    router.add_post("/admin/trust", trust_change)
    router.add_get("/admin/members", members_page, name="admin_members")
    router.add_post("/admin/invites", create_invite, name="admin_invites")
    router.add_post("/admin/invites/revoke", revoke_invite, name="admin_invite_revoke")
    # Row ids are SQLite's 64-bit integers: a longer run of digits is no page (not a 500).
    router.add_post(r"/admin/members/{id:[0-9]{1,18}}/revoke", revoke_member, name="admin_revoke")
    router.add_get("/admin/audit", audit_page, name="admin_audit")
    router.add_get("/admin/settings", settings_page, name="admin_settings")
    router.add_post("/admin/settings", save_settings)
