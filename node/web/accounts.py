"""Accounts: sign-up with an invite, log in and out, passphrase change, deleting an
account, the language switch, quick exit and unlocking a locked node.

Rule: a member is a nickname and a passphrase, nothing else is ever asked. Every login
issues a fresh session id (an id planted before login is never promoted); logout,
quick exit, passphrase change and account deletion drop sessions. Passphrases are
hashed and checked in the node's bounded pool, with the same work for unknown
nicknames, and are never echoed, stored in the clear or logged. Logout, quick exit and
account deletion answer with Clear-Site-Data. The log-in form asks the browser not to
save the passphrase unless the visitor chose "let this browser save it" on that page
(a per-device choice kept in the form itself: no cookie, nothing on the node). The log-in and
sign-up forms pass only with a solved proof of work or through the slow lane
(``work.py``), and every attempt is counted against its account (and its client, when
the client has an address) before its passphrase is hashed, never after.
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
from . import relogin
from .context import (
    client,
    end_session,
    need,
    offered_languages,
    quick_exit_url,
    redirect,
    redirect_done,
    render,
    render_locked,
    session,
    state,
    take_notice,
    translator,
    unlocked,
    visit,
)
from .forms import Form
from .i18n import N_, Translator
from .ratelimit import EVERYONE, Attempt, key_of
from .work import Verdict

log = logging.getLogger(__name__)

DONE_MESSAGES = {
    "deleted": N_("Your account and your reports are deleted."),
    "passphrase": N_("Your passphrase is changed."),
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


WORK_REFUSED = {
    Verdict.INVALID: N_("This form could not be checked. Reload the page and send it again."),
    Verdict.EXPIRED: N_("This form was open too long. Send it again."),
}
SLOW_LANE_FULL = N_(
    "Too many people are using this form without JavaScript right now. Wait a minute "
    "and try again, or turn JavaScript on for this site."
)
TOO_MANY = N_("Too many attempts. Wait a while and try again.")


def _render_form(
    request: web.Request,
    template: str,
    purpose: str,
    form: Form,
    status: int = 200,
    kept_notice: str = "",
) -> web.Response:
    """A log-in or sign-up page with a fresh proof-of-work challenge in its form."""
    st = state(request)
    bits = int(unlocked(request).settings["login_work_bits"])
    challenge = st.challenges.issue(purpose, bits, st.host.clock.now())
    return render(
        request, template, status=status, form=form, challenge=challenge, kept_notice=kept_notice
    )


async def _admitted(request: web.Request, form: Form, purpose: str) -> int:
    """0 when the form's proof of work is solved, or it waited in the slow lane;
    else the status to answer with, its message recorded in ``form`` (field "pow")."""
    st, t = state(request), translator(request)
    verdict = st.challenges.redeem(
        purpose, form.hidden("pow_challenge"), form.hidden("pow"), st.host.clock.now()
    )
    if verdict is Verdict.SOLVED:
        return 0
    if verdict is Verdict.UNSOLVED:
        if await st.slow_lane.wait():
            return 0
        form.refuse(t.gettext(SLOW_LANE_FULL))
        return 429
    form.error("pow", t.gettext(WORK_REFUSED[verdict]))
    return 400


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
    done = DONE_MESSAGES.get(take_notice(request))
    return render(request, "home.html", done=t.gettext(done) if done else "", form=None)


async def signup_page(request: web.Request) -> web.Response:
    return _render_form(request, "signup.html", "signup", Form({}, translator(request)))


async def signup(request: web.Request) -> web.Response:
    st, t = state(request), translator(request)
    store = unlocked(request).store
    form = Form(await request.post(), t)
    code = form.text("invite", max_chars=64)
    nick = _nickname(form, t)
    passphrase = _new_passphrase(form, t)
    if not form.ok:
        return _render_form(request, "signup.html", "signup", form, 400)
    refused = await _admitted(request, form, "signup")
    if refused:
        return _render_form(request, "signup.html", "signup", form, refused)
    now = st.host.clock.now()
    per_client = client(request).key("signup")
    if per_client is not None and not st.limits.signup_client.take(per_client, now):
        form.refuse(t.gettext(TOO_MANY))
        return _render_form(request, "signup.html", "signup", form, 429)
    pass_hash = await st.host.hashes.run(hash_passphrase, passphrase)
    try:
        member = await store.members.redeem_invite(code, nick, pass_hash, now)
    except Forbidden:
        form.error("invite", t.gettext("That invite code is not valid or has expired."))
    except UsageError:
        form.error("nickname", t.gettext("That nickname is taken; choose another."))
    if not form.ok:
        return _render_form(request, "signup.html", "signup", form, 400)
    log.debug("a %s signed up", member.role)
    _start_session(request, member.id, member.role, member.nickname)
    return redirect("/")


def _render_login(request: web.Request, form: Form, status: int = 200) -> web.Response:
    """The log-in form; the browser may save the passphrase only when the visitor
    chose that on this page (the form carries the choice in its "save" field)."""
    return _render_form(request, "login.html", "login", form, status)


KEPT_FOR_LOGIN = N_(
    "You were logged out, so your form was not sent. Log in again; what you typed is "
    "kept and will be shown again, not sent."
)


def login_after_loss(request: web.Request) -> web.Response:
    """The log-in page answering a form sent after its session was lost, whose text
    node/web/relogin.py kept: logging in leads back to that form, filled in."""
    t = translator(request)
    form = Form({}, t)
    return _render_form(request, "login.html", "login", form, kept_notice=t.gettext(KEPT_FOR_LOGIN))


async def login_page(request: web.Request) -> web.Response:
    return _render_login(request, Form({}, translator(request)))


async def login_saving(request: web.Request) -> web.Response:
    """The log-in form with saving allowed: the visitor asked for it on this device."""
    form = Form({"save": "1"}, translator(request))
    form.flag("save")
    return _render_login(request, form)


def _begin_attempt(request: web.Request, nickname: str, per_client: bool) -> Attempt | None:
    """Count a passphrase attempt against the account (and, with ``per_client``, the
    client, unless it is anonymous) before any hashing; None when a limit is used up.
    Checked and counted in one step, with no await in between."""
    st = state(request)
    now = st.host.clock.now()
    limits = st.limits
    account = key_of("login-account", nickname.casefold())
    if limits.login_account.counted(account, now) >= limits.login_account.limit:
        return None
    client_key = client(request).key("login") if per_client else None
    if client_key is not None and not limits.login_client.take(client_key, now):
        return None
    return limits.login_account.begin(account, now)


async def login(request: web.Request) -> web.Response:
    st, t = state(request), translator(request)
    store = unlocked(request).store
    form = Form(await request.post(), t)
    form.flag("save")  # kept, so the form comes back in the state it was sent in
    nick = _nickname(form, t)
    passphrase = form.secret("passphrase")
    if not form.ok:
        return _render_login(request, form, 400)
    refused = await _admitted(request, form, "login")
    if refused:
        return _render_login(request, form, refused)
    attempt = _begin_attempt(request, nick, per_client=True)
    if attempt is None:
        form.refuse(t.gettext(TOO_MANY))
        return _render_login(request, form, 429)
    matched = False
    try:
        member, pass_hash = await store.members.credentials(nick)
        matched = await st.host.hashes.run(passphrase_matches, pass_hash, passphrase)
        matched = matched and member is not None
    finally:
        attempt.end(succeeded=matched)
    if member is None or not matched:
        form.error("passphrase", t.gettext("That nickname and passphrase do not match."))
        return _render_login(request, form, 400)
    _start_session(request, member.id, member.role, member.nickname)
    # Back to a form sent after the last session was lost, to be checked and sent again.
    return redirect(relogin.claim(request, member.id))


async def logout(request: web.Request) -> web.Response:
    end_session(request)
    return redirect("/")


async def quick_exit(request: web.Request) -> web.Response:
    """Called by the quick-exit script as it leaves: end the session at once."""
    end_session(request)
    return web.Response(status=204)


async def exit_now(request: web.Request) -> web.Response:
    """The quick-exit link itself (with or without JavaScript): end the session, clear
    the site's data and send the visitor to the neutral site. A GET, so it works as a
    plain link; the session cookie is SameSite=Strict, so another site's link to it
    arrives without the cookie and can end no one's session."""
    end_session(request)
    return redirect(quick_exit_url(request))


async def account_page(request: web.Request) -> web.Response:
    need(request)
    return render(
        request,
        "account.html",
        form=Form({}, translator(request)),
        delete_form=None,
        vouching=int(unlocked(request).settings["member_invites_per_month"]) > 0,
    )


async def _verify_current(request: web.Request, form: Form, name: str) -> bool:
    """Check the logged-in member's passphrase (counted against the account's limit)."""
    st, t = state(request), translator(request)
    me = need(request)
    passphrase = form.secret(name)
    if name in form.errors:
        return False
    store = unlocked(request).store
    attempt = _begin_attempt(request, me.nickname, per_client=False)
    if attempt is None:
        form.refuse(t.gettext(TOO_MANY))
        return False
    matched = False
    try:
        _, pass_hash = await store.members.credentials(me.nickname)
        matched = await st.host.hashes.run(passphrase_matches, pass_hash, passphrase)
    finally:
        attempt.end(succeeded=matched)
    if not matched:
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
    return redirect_done(request, "/", "passphrase")


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
    end_session(request)
    log.debug("a member deleted their account")
    # Shown here, not after a redirect: the session that could carry the notice is
    # gone, and a URL must not say what happened.
    return render(request, "home.html", done=t.gettext(DONE_MESSAGES["deleted"]), form=None)


async def switch_language(request: web.Request) -> web.Response:
    """A POST (with CSRF, like every form): the chosen language is never in a URL."""
    form = await request.post()
    lang = form.get("to", "")
    if isinstance(lang, str) and lang in offered_languages(request):
        visit(request).set_lang = lang
    wanted = form.get("next", "/")
    # Back to the page the visitor was on, if it is one of ours (node.web.redirects).
    return redirect(state(request).pages.target(wanted if isinstance(wanted, str) else "/"))


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
    # One budget shared by every anonymous client: the admin can always unlock from the
    # command line.
    per_client = client(request).shared_key("unlock")
    limits = st.limits
    # Counted before the slow hash, per client and for everyone together, with no await
    # in between: parallel guesses cannot all pass the check before any is counted.
    if not (
        limits.unlock_client.allowed(per_client, now)
        and limits.node_passphrase.allowed(EVERYONE, now)
    ):
        return render_locked(request, t.gettext(TOO_MANY))
    limits.unlock_client.hit(per_client, now)
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
    router.add_post("/login/save", login_saving, name="login_save")
    router.add_post("/logout", logout, name="logout")
    router.add_post("/quick-exit", quick_exit, name="quick_exit")
    router.add_get("/exit", exit_now, name="exit")
    router.add_get("/account", account_page, name="account")
    router.add_post("/account/passphrase", change_passphrase)
    router.add_post("/account/delete", delete_account)
    router.add_post("/lang", switch_language, name="lang")
    router.add_post("/unlock", unlock, name="unlock")
