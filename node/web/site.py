"""The web app's factory and middlewares.

Rule: every response (pages, redirects, errors, static files, feeds) passes the
headers middleware, so each carries the safety headers; every POST passes the CSRF
check before its handler runs; a locked node answers every page with the "locked"
page and decrypts nothing; templates autoescape everything. No access log, and the
log never names a member, an indicator, report text or a client address. This
module imports the pages; the pages import ``context``, never this module.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import jinja2
from aiohttp import web

from federation.https import drop_server_header
from protocol.errors import ProtocolError

from ..config import ProxyNetwork
from ..errors import NodeError, WrongPassphrase
from ..overrides import Overrides
from . import (
    accounts,
    admin,
    caseworkers,
    feeds,
    i18n,
    member_sms,
    members,
    outreach,
    panic,
    partner_api,
    partner_pages,
    receipts,
    relogin,
    reporter,
    sms_hooks,
    subscriptions,
    texts,
    totals,
    translating,
    voice,
    vouching,
    warnings,
)
from .assets import CACHE_FOREVER, Assets
from .clients import ClientPolicy
from .context import (
    ERROR_TITLES,
    LANG_COOKIE,
    PRE_COOKIE,
    SESSION_COOKIE,
    STATE_KEY,
    WebState,
    error_page,
    offered_languages,
    redirect,
    render_locked,
    session,
    state,
    translator,
    visit,
)
from .csrf import tokens_match
from .host import Host
from .i18n import Translator
from .kept import KEPT_COOKIE, KEPT_FOR_S
from .redirects import LocalPages
from .work import SlowLane

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024

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

# What a logout or quick exit asks the browser to forget: every page it cached, every
# cookie and everything in the site's storage (https://w3c.github.io/webappsec-clear-site-data/).
CLEAR_SITE_DATA = '"cache", "cookies", "storage"'

# Paths whose callers are programs that authenticate each request themselves.
MACHINE_PREFIXES = (partner_api.PREFIX, sms_hooks.PREFIX)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- middlewares (outermost first) -------------------------------------------------------


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    # Only a hashed asset (node/web/assets.py) may be cached; everything else is no-store.
    forever = response.headers.get("Cache-Control") == CACHE_FOREVER
    response.headers.update(SAFETY_HEADERS)
    if forever and response.status == 200:
        response.headers["Cache-Control"] = CACHE_FOREVER
    secure = request.secure
    v = visit(request)
    if v.clear_site:
        response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    if v.set_pre and v.pre and not v.clear_site:
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
    if v.set_kept is not None:
        if v.set_kept and not v.clear_site:
            response.set_cookie(
                KEPT_COOKIE,
                v.set_kept,
                max_age=KEPT_FOR_S,
                httponly=True,
                samesite="Strict",
                secure=secure,
                path="/",
            )
        elif not v.set_kept:
            response.del_cookie(KEPT_COOKIE, path="/", samesite="Strict", secure=secure)
    if v.set_lang:
        response.set_cookie(
            LANG_COOKIE, v.set_lang, httponly=True, samesite="Lax", secure=secure, path="/"
        )
    return response


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
    except ProtocolError as exc:
        # A rule of the protocol broken by what the visitor sent: their mistake, not a
        # crash. The message may quote what they sent, so the page says only what
        # kind of problem it was.
        status = exc.status if 400 <= exc.status < 500 else 400
        t = translator(request)
        return error_page(request, status, t.gettext(ERROR_TITLES.get(status, ERROR_TITLES[400])))
    except ConnectionError:
        # The visitor's connection is gone (a deadline closed it, or they did): no
        # page can reach them, and a stranger's trickling is not worth a log line.
        raise
    except Exception:
        route = request.match_info.route.name or "?"
        log.exception("web page %s failed", route)
        return error_page(request, 500)


@web.middleware
async def context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    st = state(request)
    offered = offered_languages(request)
    lang = request.cookies.get(LANG_COOKIE, "")
    if lang not in offered:
        lang = i18n.negotiate(request.headers.get("Accept-Language", ""), offered)
    v = visit(request)
    v.t = Translator(lang, st.overrides)
    pre = request.cookies.get(PRE_COOKIE)
    if pre and len(pre) <= 64:
        v.pre = pre
    if request.path.startswith(MACHINE_PREFIXES):
        # JSON for machines (partner platforms, SMS gateways): no cookie, no session,
        # no CSRF token; each route authenticates its caller itself and answers errors
        # (a locked node included) in its own format.
        return await handler(request)
    if request.path.startswith("/static/"):
        return await handler(request)
    host = st.host
    lost_owner: int | None = None  # the member of a session that just timed out
    if host.locked:
        st.sessions.clear()
        st.kept.clear()
        # The quick exit leaves even a locked node.
        if request.path == "/exit" and request.method == "GET":
            return await handler(request)
        if not (request.path == "/unlock" and request.method == "POST"):
            return render_locked(request)
    else:
        sid = request.cookies.get(SESSION_COOKIE)
        if sid:
            idle_s = int(host.unlocked().settings["session_idle_minutes"]) * 60
            lost_owner = st.sessions.member_of(sid)
            current = st.sessions.get(sid, host.clock.now(), idle_s)
            if current is None:
                v.set_session = ""
            v.session = current
    if (
        request.method == "POST"
        and v.session is not None
        and v.session.role == "admin"
        and translating.is_upload(request.path)
    ):
        # The one form that carries a whole catalogue, for an admin only.
        request = request.clone(client_max_size=translating.MAX_UPLOAD_BYTES)
    if request.method == "POST" and not await csrf_ok(request):
        if v.session is None and await relogin.keep_posted(request, lost_owner):
            # Sent after the session was lost: what was typed is kept (node/web/kept.py)
            # and the log-in page says so.
            return accounts.login_after_loss(request)
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
    multipart or chunked framing), so no handler ever reads one."""
    try:
        form = await request.post()
    except (ValueError, LookupError, web.RequestPayloadError):
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


def make_env(assets: Assets | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("node", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["asset"] = (assets or Assets()).url
    return env


def create_app(
    host: Host, trusted_proxies: Iterable[ProxyNetwork] = (), overrides: Overrides | None = None
) -> web.Application:
    """The web app for ``host``; forwarded-client headers are read only from
    connections from ``trusted_proxies`` (node/web/clients.py); pages speak the
    shipped catalogues with ``overrides`` (the node's own translations) over them."""
    app = web.Application(
        middlewares=[headers_middleware, errors_middleware, context_middleware],
        client_max_size=MAX_REQUEST_BYTES,
    )
    app.on_response_prepare.append(drop_server_header)
    assets = Assets()
    assets.add_routes(app.router)
    static = Path(__file__).resolve().parent.parent / "static"
    app.router.add_static("/static/", static, show_index=False, follow_symlinks=False)
    accounts.add_routes(app.router)
    members.add_routes(app.router)
    member_sms.add_routes(app.router)
    caseworkers.add_routes(app.router)
    admin.add_routes(app.router)
    panic.add_routes(app.router)
    feeds.add_routes(app.router)
    texts.add_routes(app.router)
    receipts.add_routes(app.router)
    reporter.add_routes(app.router)
    subscriptions.add_routes(app.router)
    vouching.add_routes(app.router)
    translating.add_routes(app.router)
    partner_api.add_routes(app.router)
    partner_pages.add_routes(app.router)
    sms_hooks.add_routes(app.router)
    sms_hooks.install(app, host)
    warnings.add_routes(app.router)
    totals.add_routes(app.router)
    outreach.add_routes(app.router)
    voice.add_routes(app.router)
    pages = LocalPages(app.router.resources())
    app[STATE_KEY] = WebState(
        host=host,
        env=make_env(assets),
        pages=pages,
        slow_lane=SlowLane(host.clock),
        clients=ClientPolicy(trusted_proxies),
        overrides=overrides or Overrides(None),
    )
    return app
