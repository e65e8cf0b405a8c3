"""What every web page shares: the app's state, the visitor, rendering and redirects.

Rule: page modules import their helpers from here and never from ``app`` (which
imports the pages), so node/web has no import cycle. Handlers reach the node only
through ``host(request)`` (a ``Host``) and its unlocked parts through
``unlocked(request)``, by name; a locked node raises Locked, which the errors
middleware answers with the "locked" page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jinja2
from aiohttp import web

from ..errors import Locked
from ..overrides import Overrides
from ..setting_kinds import QUICK_EXIT_DEFAULT
from ..texts import OrgTexts, to_html
from . import i18n
from .cards import CardCache
from .clients import Client, ClientPolicy
from .csrf import CsrfKeys
from .forms import Form
from .host import Host
from .i18n import LANGUAGES, N_, Translator
from .kept import KEPT_COOKIE, KeptForms
from .pending import ReceiptDesk
from .ratelimit import WebLimits
from .redirects import LocalPages
from .sessions import Session, Sessions
from .work import Challenges, SlowLane

if TYPE_CHECKING:
    from ..app import Unlocked

SESSION_COOKIE = "an_session"
PRE_COOKIE = "an_pre"
LANG_COOKIE = "an_lang"
ROLE_RANK = {"member": 0, "caseworker": 1, "admin": 2}


@dataclass
class WebState:
    host: Host
    env: jinja2.Environment
    pages: LocalPages
    slow_lane: SlowLane
    clients: ClientPolicy = field(default_factory=ClientPolicy)
    sessions: Sessions = field(default_factory=Sessions)
    csrf: CsrfKeys = field(default_factory=CsrfKeys)
    limits: WebLimits = field(default_factory=WebLimits)
    challenges: Challenges = field(default_factory=Challenges)
    receipts: ReceiptDesk = field(default_factory=ReceiptDesk)
    kept: KeptForms = field(default_factory=KeptForms)
    overrides: Overrides = field(default_factory=lambda: Overrides(None))
    cards: CardCache = field(default_factory=CardCache)


STATE_KEY: web.AppKey[WebState] = web.AppKey("web_state", WebState)


@dataclass
class Visit:
    """What one request knows about its visitor, and which cookies to set on the way out."""

    t: Translator
    session: Session | None = None
    pre: str | None = None
    set_pre: bool = False
    set_session: str | None = None  # None: leave the cookie alone; "": delete it
    set_lang: str | None = None
    set_kept: str | None = None  # the kept-form cookie: None leave it; "" delete it
    clear_site: bool = False  # answer with Clear-Site-Data (logout, quick exit)


VISIT_KEY: web.RequestKey[Visit] = web.RequestKey("visit", Visit)


def visit(request: web.Request) -> Visit:
    found = request.get(VISIT_KEY)
    if found is None:
        found = Visit(
            Translator(
                i18n.negotiate(request.headers.get("Accept-Language", "")),
                state(request).overrides,
            )
        )
        request[VISIT_KEY] = found
    return found


def offered_languages(request: web.Request) -> dict[str, str]:
    """The languages this node offers (the ``languages`` setting; every installed one
    while locked), English always among them, each with its native name."""
    try:
        chosen = set(state(request).host.unlocked().settings["languages"])
    except Locked:
        chosen = set(LANGUAGES)
    return {code: name for code, name in LANGUAGES.items() if code in chosen or code == "en"}


def state(request: web.Request) -> WebState:
    return request.app[STATE_KEY]


def host(request: web.Request) -> Host:
    return state(request).host


def unlocked(request: web.Request) -> Unlocked:
    """The node's open store, services and settings, by name. Raises Locked."""
    return state(request).host.unlocked()


def translator(request: web.Request) -> Translator:
    return visit(request).t


def session(request: web.Request) -> Session | None:
    return visit(request).session


def client(request: web.Request) -> Client:
    """The client the per-client limits count (node/web/clients.py)."""
    headers = request.headers
    return state(request).clients.client(
        request.remote, headers.getall("X-Forwarded-For", []), headers.getall("Forwarded", [])
    )


def need(request: web.Request, role: str = "member") -> Session:
    """The logged-in session with at least ``role``. Raises a redirect to log in, or 403."""
    current = session(request)
    if current is None:
        raise web.HTTPSeeOther("/login")
    if ROLE_RANK[current.role] < ROLE_RANK[role]:
        raise web.HTTPForbidden()
    return current


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def redirect_done(request: web.Request, location: str, done: str) -> web.Response:
    """A redirect to ``location`` whose page says ``done`` once: the notice is kept in
    the session, never in the URL, so history shows only the neutral page."""
    current = session(request)
    if current is not None:
        current.notice = done
    return redirect(location)


def take_notice(request: web.Request) -> str:
    """The session's one-off notice (``redirect_done``), now forgotten; "" if none."""
    current = session(request)
    if current is None:
        return ""
    done, current.notice = current.notice, ""
    return done


def end_session(request: web.Request) -> None:
    """Drop the visitor's session, delete its cookie and ask the browser to clear
    everything this site left (Clear-Site-Data: cache, cookies, storage)."""
    v = visit(request)
    forget_kept(request)
    if v.session is not None:
        state(request).sessions.drop(v.session.id)
    v.session = None
    v.set_session = ""
    v.clear_site = True


def forget_kept(request: web.Request) -> None:
    """Drop the form this browser had kept (node/web/kept.py), waiting or handed to
    its session, and delete its cookie."""
    st, v = state(request), visit(request)
    ref = request.cookies.get(KEPT_COOKIE)
    if ref:
        st.kept.drop(ref)
        v.set_kept = ""
    if v.session is not None:
        v.session.kept = None


KEPT_SHOWN = N_(
    "This is what you typed before you had to log in again. It has not been sent: "
    "check it and send it again."
)


def _refill(request: web.Request, ctx: dict[str, Any], t: Translator) -> str:
    """Fill the page's form with the session's kept form when this is that form's page
    (then forget it); the notice to show, or ""."""
    current = session(request)
    if current is None or current.kept is None:
        return ""
    if request.method != "GET" or request.path != current.kept.path:
        return ""
    kept, current.kept = current.kept, None  # shown once, then gone
    form = ctx.get("form")
    if not isinstance(form, Form):
        return ""
    form.values.update(kept.values())
    return t.gettext(KEPT_SHOWN)


def csrf_token(request: web.Request) -> str:
    current = session(request)
    if current is not None:
        return current.csrf
    v = visit(request)
    if v.pre is None:
        v.pre = CsrfKeys.new_pre_session()
        v.set_pre = True
    return state(request).csrf.pre_session_token(v.pre)


def org_texts(request: web.Request) -> OrgTexts | None:
    """The organisation's texts, or None while the node is locked (its defaults then)."""
    try:
        return state(request).host.unlocked().texts
    except Locked:
        return None


def org_text(request: web.Request, key: str, t: Translator | None = None) -> str:
    """The organisation's text ``key`` (node/texts.py) for ``t``'s readers, as plain text.
    A locked node shows the defaults: its edits are sealed."""
    t = t or translator(request)
    texts = org_texts(request)
    if texts is None:
        return OrgTexts.default(key, t.gettext)
    return texts.get(key, t.lang, t.gettext)


def quick_exit_url(request: web.Request) -> str:
    """The node's setting; its default while the node is locked."""
    try:
        return str(state(request).host.unlocked().settings["quick_exit_url"])
    except Locked:
        return QUICK_EXIT_DEFAULT


def render(
    request: web.Request,
    template: str,
    *,
    status: int = 200,
    t: Translator | None = None,
    **ctx: Any,
) -> web.Response:
    st = state(request)
    t = t or translator(request)
    current = session(request)
    # The log-in page after a lost session passes its own notice.
    kept_notice = str(ctx.pop("kept_notice", "")) or _refill(request, ctx, t)
    args = dict(
        **t.template_globals(),
        lang=t.lang,
        html_lang=t.html_lang,
        text_dir=t.dir,
        languages=offered_languages(request),
        me=current,
        rank=ROLE_RANK[current.role] if current else -1,
        csrf=csrf_token(request),
        path=request.path,
        # Every title and the page's header carry the public name the organisation
        # chose (bland by default), never the node's own name: a phone's history and
        # tabs show titles.
        node_name=org_text(request, "public_name", t),
        org_text=lambda key, heading=2: to_html(org_text(request, key, t), heading),
        quick_exit_url=quick_exit_url(request),
        kept_notice=kept_notice,
        **ctx,
    )
    page = st.env.get_template(template)
    html = page.render(args)
    # A form's error summary comes before its fields, whose macros record their labels
    # (Form.labels): drawn once more, the summary names each field.
    if any(isinstance(v, Form) and v.errors and v.labels for v in ctx.values()):
        html = page.render(args)
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status)


SOMETHING_WRONG = i18n.N_("Something went wrong. Please try again.")
ERROR_TITLES = {
    400: i18n.N_("That request could not be read."),
    403: i18n.N_("You are not allowed to see this page."),
    404: i18n.N_("There is no such page."),
    405: i18n.N_("That is not how this page is used."),
    413: i18n.N_("That form was too large. Shorten the text and try again."),
    429: i18n.N_("Too many attempts. Wait a while and try again."),
}


def error_page(request: web.Request, status: int, message: str | None = None) -> web.Response:
    t = translator(request)
    text = message or t.gettext(ERROR_TITLES.get(status, SOMETHING_WRONG))
    return render(request, "error.html", status=status, message=text)


def render_locked(request: web.Request, message: str = "", status: int = 503) -> web.Response:
    return render(request, "locked.html", status=status, message=message)
