"""The member and caseworker web app (a status page until the full app lands).

Rule: no access log, no external resources, every response carries the safety
headers; a locked node answers every page with "locked" and decrypts nothing.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from aiohttp import web

from ..app import NODE_KEY

if TYPE_CHECKING:
    from ..app import Node

SAFETY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; object-src 'none';"
    " frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


@web.middleware
async def _headers(request: web.Request, handler):  # type: ignore[no-untyped-def]
    response = await handler(request)
    response.headers.update(SAFETY_HEADERS)
    return response


async def _status_page(request: web.Request) -> web.Response:
    node: Node = request.app[NODE_KEY]
    state = "locked" if node.locked else "running"
    name = html.escape(node.config.name)
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width'>"
        f"<title>{name}</title><h1>{name}</h1><p>alertnode is {state}.</p></html>"
    )
    return web.Response(text=body, content_type="text/html", status=503 if node.locked else 200)


def web_app(node: Node) -> web.Application:
    app = web.Application(middlewares=[_headers], client_max_size=64 * 1024)
    app[NODE_KEY] = node
    app.router.add_get("/", _status_page)
    return app
