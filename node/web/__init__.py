"""The member, caseworker and admin web app (aiohttp + jinja2, server-rendered).

Rule: no access log, no external resources, every response carries the safety
headers; a locked node answers every page with "locked" and decrypts nothing. The
modules split by responsibility: ``app`` (factory, middlewares, rendering),
``sessions``, ``csrf``, ``ratelimit``, ``i18n``, ``forms``, ``redaction``, and the
pages: ``accounts``, ``members``, ``caseworkers``, ``admin``, ``feeds``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from .app import SAFETY_HEADERS, create_app

if TYPE_CHECKING:
    from ..app import Node

__all__ = ["SAFETY_HEADERS", "web_app"]


def web_app(node: Node) -> web.Application:
    return create_app(node)
