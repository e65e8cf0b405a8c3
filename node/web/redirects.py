"""Where the web app may send a visitor it redirects on request (the language switch).

Rule: a redirect target taken from a request is used only when it is the path of one
of this app's own pages: a GET route (other than the language switch itself) whose
path it matches exactly, written in ASCII letters, digits and ``/._~-`` only, at most
``MAX_NEXT_CHARS`` long, with no ``//``. Anything else (a scheme, a host, a backslash,
a control, space or non-ASCII character, a query, a fragment, a percent escape, a
path no page has) sends the visitor to the home page. So a ``Location`` header built
from a request can neither leave the site in any browser nor break the header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from aiohttp import web

HOME = "/"
MAX_NEXT_CHARS = 200
# Route names never used as a target: going back to the switch would loop, and the
# quick exit would end the session.
NOT_TARGETS = frozenset({"lang", "exit"})
_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")


class LocalPages:
    """The app's pages a visitor may be sent back to, learnt from its router."""

    def __init__(self, resources: Iterable[web.AbstractResource]) -> None:
        exact: set[str] = set()
        patterns: list[re.Pattern[str]] = []
        for resource in resources:
            if resource.name in NOT_TARGETS:
                continue
            if not any(route.method == "GET" for route in resource):
                continue
            info = resource.get_info()
            if "path" in info:
                exact.add(str(info["path"]))
            elif "pattern" in info:  # a route with a typed part, like /review/{id}
                patterns.append(info["pattern"])
            # Static files ("prefix") are not pages.
        self._exact = frozenset(exact)
        self._patterns = tuple(patterns)

    def target(self, wanted: str) -> str:
        """``wanted`` if it is one of the pages, else the home page."""
        if len(wanted) > MAX_NEXT_CHARS or not _PATH.fullmatch(wanted) or "//" in wanted:
            return HOME
        if wanted in self._exact or any(p.fullmatch(wanted) for p in self._patterns):
            return wanted
        return HOME
