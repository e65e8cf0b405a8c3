"""Accounts: sign-up with an invite, log in and out, passphrase change, deleting an
account, the language switch, quick exit and unlocking a locked node.

Rule: a member is a nickname and a passphrase, nothing else is ever asked. Every login
issues a fresh session id (an id planted before login is never promoted); logout,
quick exit, passphrase change and account deletion drop sessions. Passphrases are
hashed and checked in the node's bounded pool, with the same work for unknown
nicknames, and are never echoed, stored in the clear or logged.
"""

from __future__ import annotations

import logging
import unicodedata

from aiohttp import web

from ..errors import Forbidden, UsageError, WrongPassphrase
from ..keys.keystore import MIN_PASSPHRASE_CHARS
from ..store.members import (
    MAX_NICK_CHARS,
    MAX_PASSPHRASE_CHARS,
    MIN_NICK_CHARS,
    hash_passphrase,
    passphrase_matches,
)
from .context import (
    client_key,
    need,
    redirect,
    render,
    render_locked,
    session,
    state,
    translator,
    unlocked,
    visit,
)
from .forms import Form
from .i18n import LANGUAGES, N_, Translator
from .ratelimit import EVERYONE, key_of

log = logging.getLogger(__name__)

DONE_MESSAGES = {
    "deleted": N_("Your account and your reports are deleted."),
    "passphrase": N_("Your passphrase is changed."),
    "logout": N_("You are logged out."),
}


def _nickname(form: Form, t: Translator) -> str:
    nick = unicodedata.normalize("NFKC", form.text("nickname", max_chars=64))
    if "nickname" in form.errors:
        return ""
    if not MIN_NICK_CHARS <= len(nick) <= MAX_NICK_CHARS:
        form.error(
            "nickname",
            t.gettext(
                "A nickname has %(lo)d to %(hi)d characters.", lo=MIN_NICK_CHARS, hi=MAX_NICK_CHARS
            ),
        )
    elif any(not ch.isprintable() or ch.isspace() for ch in nick):
        form.error("nickname", t.gettext("A nickname has no spaces."))
    return nick


def _new_passphrase(form: Form, t: Translator, name: str = "passphrase") -> str:
    passphrase = form.secret(name, max_chars=MAX_PASSPHRASE_CHARS)
    again = form.secret(name + "2", max_chars=MAX_PASSPHRASE_CHARS)
    if name in form.errors:
        return ""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        form.error(
            name,
            t.gettext(
                "A passphrase has at least %(n)d characters; a few words are best.",
                n=MIN_PASSPHRASE_CHARS,
            ),
        )
    elif passphrase != again and name + "2" not in form.errors:
        form.error(name + "2", t.gettext("The two passphrases differ."))
    return passphrase


def _start_session(request: web.Request, member_id: int, role: str, nickname: str) -> None:
    st = state(request)
    old = session(request)
    if old is not None:
        st.sessions.drop(old.id)
    new = st.sessions.create(member_id, role, nickname, st.host.clock.now())
    v = visit(request)
    v.session = new
    v.set_session = new.id


async def home(request: web.Request) -> web.Response:
    t = translator(request)
    done = DONE_MESSAGES.get(request.query.get("done", ""))
    return render(request, "home.html", done=t.gettext(done) if done else "", form=None)


async def signup_page(request: web.Request) -> web.Response:
    return render(request, "signup.html", form=Form({}, translator(request)))


async def signup(request: web.Request) -> web.Response:
    st, t = state(request), translator(request)
    store = unlocked(request).store
    form = Form(await request.post(), t)
    code = form.text("invite", max_chars=64)
    nick = _nickname(form, t)
    passphrase = _new_passphrase(form, t)
    if not form.ok:
        return render(request, "signup.html", status=400, form=form)
    now = st.host.clock.now()
    client = client_key(request, "signup")
    if not st.limits.signup_client.allowed(client, now):
        form.error("invite", t.gettext("Too many attempts. Wait a while and try again."))
        return render(request, "signup.html", status=429, form=form)
    st.limits.signup_client.hit(client, now)
    pass_hash = await st.host.hashes.run(hash_passphrase, passphrase)
    try:
        member = await store.members.redeem_invite(code, nick, pass_hash, now)
    except Forbidden:
        form.error("invite", t.gettext("That invite code is not valid or has expired."))
    except UsageError:
        form.error("nickname", t.gettext("That nickname is taken; choose another."))
    if not form.ok:
        return render(request, "signup.html", status=400, form=form)
    log.debug("a %s signed up", member.role)
    _start_session(request, member.id, member.role, member.nickname)
    return redirect("/")


async def login_page(request: web.Request) -> web.Response:
    return render(request, "login.html", form=Form({}, translator(request)))


async def login(request: web.Request) -> web.Response:
    st, t = state(request), translator(request)
    store = unlocked(request).store
    form = Form(await request.post(), t)
    nick = _nickname(form, t)
    passphrase = form.secret("passphrase")
    if not form.ok:
        return render(request, "login.html", status=400, form=form)
    now = st.host.clock.now()
    account = key_of("login-account", nick.casefold())
    client = client_key(request, "login")
    limits = st.limits
    if not (
        limits.login_account.allowed(account, now) and limits.login_client.allowed(client, now)
    ):
        form.error("passphrase", t.gettext("Too many attempts. Wait a while and try again."))
        return render(request, "login.html", status=429, form=form)
    limits.login_client.hit(client, now)
    member, pass_hash = await store.members.credentials(nick)
    matches = await st.host.hashes.run(passphrase_matches, pass_hash, passphrase)
    if member is None or not matches:
        limits.login_account.hit(account, now)
        form.error("passphrase", t.gettext("That nickname and passphrase do not match."))
        return render(request, "login.html", status=400, form=form)
    limits.login_account.reset(account)
    _start_session(request, member.id, member.role, member.nickname)
    return redirect("/")


async def logout(request: web.Request) -> web.Response:
    current = session(request)
    if current is not None:
        state(request).sessions.drop(current.id)
    visit(request).session = None
    visit(request).set_session = ""
    return redirect("/?done=logout")


async def quick_exit(request: web.Request) -> web.Response:
    """Called by the quick-exit script as it leaves: end the session at once."""
    current = session(request)
    if current is not None:
        state(request).sessions.drop(current.id)
    visit(request).set_session = ""
    return web.Response(status=204)


async def account_page(request: web.Request) -> web.Response:
    need(request)
    return render(request, "account.html", form=Form({}, translator(request)), delete_form=None)


async def _verify_current(request: web.Request, form: Form, name: str) -> bool:
    """Check the logged-in member's passphrase (counted against the account's limit)."""
    st, t = state(request), translator(request)
    me = need(request)
    passphrase = form.secret(name)
    if name in form.errors:
        return False
    store = unlocked(request).store
    now = st.host.clock.now()
    account = key_of("login-account", me.nickname.casefold())
    if not st.limits.login_account.allowed(account, now):
        form.error(name, t.gettext("Too many attempts. Wait a while and try again."))
        return False
    _, pass_hash = await store.members.credentials(me.nickname)
    if not await st.host.hashes.run(passphrase_matches, pass_hash, passphrase):
        st.limits.login_account.hit(account, now)
        form.error(name, t.gettext("That is not your current passphrase."))
        return False
    return True


async def change_passphrase(request: web.Request) -> web.Response:
    st, t = state(request), translator(request)
    me = need(request)
    form = Form(await request.post(), t)
    new = _new_passphrase(form, t, "new")
    if form.ok:
        await _verify_current(request, form, "current")
    if not form.ok:
        return render(request, "account.html", status=400, form=form, delete_form=None)
    store = unlocked(request).store
    await store.members.set_pass_hash(me.member_id, await st.host.hashes.run(hash_passphrase, new))
    st.sessions.drop_member(me.member_id)
    _start_session(request, me.member_id, me.role, me.nickname)
    return redirect("/?done=passphrase")


async def delete_account(request: web.Request) -> web.Response:
    st, t = state(request), translator(request)
    me = need(request)
    form = Form(await request.post(), t)
    if not form.flag("confirm"):
        form.error("confirm", t.gettext("Tick the box to confirm."))
    if form.ok:
        await _verify_current(request, form, "passphrase")
    if not form.ok:
        blank = Form({}, t)
        return render(request, "account.html", status=400, form=blank, delete_form=form)
    store = unlocked(request).store
    await store.members.delete(me.member_id)
    st.sessions.drop_member(me.member_id)
    visit(request).session = None
    visit(request).set_session = ""
    log.debug("a member deleted their account")
    return redirect("/?done=deleted")


async def switch_language(request: web.Request) -> web.Response:
    lang = request.query.get("to", "")
    if lang in LANGUAGES:
        visit(request).set_lang = lang
    # Back to the page the visitor was on, if it is one of ours (node.web.redirects).
    return redirect(state(request).pages.target(request.query.get("next", "/")))


async def unlock(request: web.Request) -> web.Response:
    st = state(request)
    t = translator(request)
    if not st.host.locked:
        return redirect("/")
    form = Form(await request.post(), t)
    passphrase = form.secret("passphrase", max_chars=MAX_PASSPHRASE_CHARS)
    if not form.ok:
        return render_locked(request, form.errors["passphrase"], 400)
    now = st.host.clock.now()
    client = client_key(request, "unlock")
    limits = st.limits
    # Counted before the slow hash, per client and for everyone together, with no await
    # in between: parallel guesses cannot all pass the check before any is counted.
    if not (
        limits.unlock_client.allowed(client, now) and limits.node_passphrase.allowed(EVERYONE, now)
    ):
        return render_locked(request, t.gettext("Too many attempts. Wait a while and try again."))
    limits.unlock_client.hit(client, now)
    limits.node_passphrase.hit(EVERYONE, now)
    try:
        await st.host.unlock(passphrase)
    except WrongPassphrase:
        return render_locked(request, t.gettext("Wrong passphrase."), 401)
    return redirect("/")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", home, name="home")
    router.add_get("/signup", signup_page, name="signup")
    router.add_post("/signup", signup)
    router.add_get("/login", login_page, name="login")
    router.add_post("/login", login)
    router.add_post("/logout", logout, name="logout")
    router.add_post("/quick-exit", quick_exit, name="quick_exit")
    router.add_get("/account", account_page, name="account")
    router.add_post("/account/passphrase", change_passphrase)
    router.add_post("/account/delete", delete_account)
    router.add_get("/lang", switch_language, name="lang")
    router.add_post("/unlock", unlock, name="unlock")
