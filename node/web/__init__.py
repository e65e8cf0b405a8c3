"""The member, caseworker and admin web app (aiohttp + jinja2, server-rendered).

Rule: no access log, no external resources, every response carries the safety
headers; a locked node answers every page with "locked" and decrypts nothing. The
web app is built from a ``Host`` (``host``: what it needs from the node), never the
whole node. The modules split by responsibility: ``app`` (factory, middlewares),
``context`` (state, rendering, redirects: what the pages share), ``sessions``,
``csrf``, ``ratelimit``, ``clients`` (who a limit counts), ``work`` (proof of work),
``i18n``, ``forms``, ``redaction``, and the pages:
``accounts``, ``members``, ``caseworkers``, ``admin``, ``feeds``, ``panic``.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from ..config import ProxyNetwork
from ..overrides import Overrides
from .host import Host
from .site import SAFETY_HEADERS, create_app

__all__ = ["SAFETY_HEADERS", "Host", "web_app"]


def web_app(
    host: Host, trusted_proxies: Iterable[ProxyNetwork] = (), overrides: Overrides | None = None
) -> web.Application:
    return create_app(host, trusted_proxies, overrides or Overrides(None))
