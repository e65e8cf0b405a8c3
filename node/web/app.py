"""The web app's factory, middlewares and page rendering.

Rule: every response (pages, redirects, errors, static files, feeds) passes the
headers middleware, so each carries the safety headers; every POST passes the CSRF
check before its handler runs; a locked node answers every page with the "locked"
page and decrypts nothing; templates autoescape everything. No access log, and the
log never names a member, an indicator, report text or a client address.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jinja2
from aiohttp import web

from ..errors import NodeError, WrongPassphrase
from . import i18n
from .csrf import CsrfKeys, tokens_match
from .i18n import LANGUAGES, Translator
from .ratelimit import Limits, key_of
from .sessions import Session, Sessions

if TYPE_CHECKING:
    from ..app import Node

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024
SESSION_COOKIE = "an_session"
PRE_COOKIE = "an_pre"
LANG_COOKIE = "an_lang"
QUICK_EXIT_URL = "https://www.bbc.com/weather"
ROLE_RANK = {"member": 0, "caseworker": 1, "admin": 2}

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
    " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SAFETY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class WebState:
    node: Node
    env: jinja2.Environment
    sessions: Sessions = field(default_factory=Sessions)
    csrf: CsrfKeys = field(default_factory=CsrfKeys)
    limits: Limits = field(default_factory=Limits)


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


VISIT_KEY: web.RequestKey[Visit] = web.RequestKey("visit", Visit)


def visit(request: web.Request) -> Visit:
    found = request.get(VISIT_KEY)
    if found is None:
        found = Visit(Translator(i18n.negotiate(request.headers.get("Accept-Language", ""))))
        request[VISIT_KEY] = found
    return found


def state(request: web.Request) -> WebState:
    return request.app[STATE_KEY]


def translator(request: web.Request) -> Translator:
    return visit(request).t


def session(request: web.Request) -> Session | None:
    return visit(request).session


def client_key(request: web.Request, purpose: str) -> bytes:
    return key_of(purpose, request.remote or "")


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


def csrf_token(request: web.Request) -> str:
    current = session(request)
    if current is not None:
        return current.csrf
    v = visit(request)
    if v.pre is None:
        v.pre = CsrfKeys.new_pre_session()
        v.set_pre = True
    return state(request).csrf.pre_session_token(v.pre)


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
    page = st.env.get_template(template).render(
        **t.template_globals(),
        lang=t.lang,
        languages=LANGUAGES,
        me=current,
        rank=ROLE_RANK[current.role] if current else -1,
        csrf=csrf_token(request),
        path=request.path,
        node_name=st.node.config.name,
        quick_exit_url=QUICK_EXIT_URL,
        **ctx,
    )
    return web.Response(text=page, content_type="text/html", charset="utf-8", status=status)


# --- middlewares (outermost first) -------------------------------------------------------


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.update(SAFETY_HEADERS)
    secure = request.secure
    v = visit(request)
    if v.set_pre and v.pre:
        response.set_cookie(
            PRE_COOKIE, v.pre, httponly=True, samesite="Strict", secure=secure, path="/"
        )
    if v.set_session is not None:
        value = v.set_session
        if value:
            response.set_cookie(
                SESSION_COOKIE, value, httponly=True, samesite="Strict", secure=secure, path="/"
            )
        else:
            response.del_cookie(SESSION_COOKIE, path="/", samesite="Strict", secure=secure)
    if v.set_lang:
        response.set_cookie(
            LANG_COOKIE, v.set_lang, httponly=True, samesite="Lax", secure=secure, path="/"
        )
    return response


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


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            return redirect(exc.headers.get("Location", "/"))
        return error_page(request, exc.status)
    except WrongPassphrase:
        return error_page(request, 401, translator(request).gettext("Wrong passphrase."))
    except NodeError as exc:
        if exc.status == 503:
            return render_locked(request)
        return error_page(request, exc.status, exc.message)
    except Exception:
        route = request.match_info.route.name or "?"
        log.exception("web page %s failed", route)
        return error_page(request, 500)


def render_locked(request: web.Request, message: str = "", status: int = 503) -> web.Response:
    return render(request, "locked.html", status=status, message=message)


@web.middleware
async def context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    st = state(request)
    lang = request.cookies.get(LANG_COOKIE, "")
    if lang not in LANGUAGES:
        lang = i18n.negotiate(request.headers.get("Accept-Language", ""))
    v = visit(request)
    v.t = Translator(lang)
    pre = request.cookies.get(PRE_COOKIE)
    if pre and len(pre) <= 64:
        v.pre = pre
    if request.path.startswith("/static/"):
        return await handler(request)
    node = st.node
    if node.locked:
        st.sessions.clear()
        if not (request.path == "/unlock" and request.method == "POST"):
            return render_locked(request)
    else:
        sid = request.cookies.get(SESSION_COOKIE)
        if sid:
            idle_s = int(node.unlocked().settings["session_idle_minutes"]) * 60
            current = st.sessions.get(sid, node.clock.now(), idle_s)
            if current is None:
                v.set_session = ""
            v.session = current
    if request.method == "POST" and not await csrf_ok(request):
        t = translator(request)
        return error_page(
            request,
            403,
            t.gettext(
                "This form has expired or did not come from this site. "
                "Go back, reload the page and try again."
            ),
        )
    return await handler(request)


async def csrf_ok(request: web.Request) -> bool:
    """Whether the POST carries this visitor's token. Raises 400 for a body that is not
    a form at all (text that is not in its charset, an unknown charset, broken
    multipart framing), so no handler ever reads one."""
    try:
        form = await request.post()
    except (ValueError, LookupError):
        raise web.HTTPBadRequest() from None
    given = form.get("csrf")
    current = session(request)
    if current is not None:
        return tokens_match(current.csrf, given)
    pre = visit(request).pre
    if not pre:
        return False
    return tokens_match(state(request).csrf.pre_session_token(pre), given)


# --- the factory ---------------------------------------------------------------------


def make_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("node", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def create_app(node: Node) -> web.Application:
    from pathlib import Path

    from ..app import NODE_KEY
    from . import accounts, admin, caseworkers, feeds, members, panic

    app = web.Application(
        middlewares=[headers_middleware, errors_middleware, context_middleware],
        client_max_size=MAX_REQUEST_BYTES,
    )
    app[NODE_KEY] = node
    app[STATE_KEY] = WebState(node=node, env=make_env())
    static = Path(__file__).resolve().parent.parent / "static"
    app.router.add_static("/static/", static, show_index=False, follow_symlinks=False)
    accounts.add_routes(app.router)
    members.add_routes(app.router)
    caseworkers.add_routes(app.router)
    admin.add_routes(app.router)
    panic.add_routes(app.router)
    feeds.add_routes(app.router)
    return app
