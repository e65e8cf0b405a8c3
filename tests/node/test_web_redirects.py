"""The language switch (a POST) sends a visitor back only to a page of this site (issue 12,
item 8): ``next`` is matched against the app's own GET routes; anything else, or
anything a browser could read as another site, goes to the home page, and no payload
raises an exception."""

from __future__ import annotations

import logging

import pytest

from tests.node.test_web_support import Site, site_fixture  # noqa: F401

# Each of these left the site in a browser, or raised an exception per request.
HOSTILE_NEXT = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\t\\evil.example",
    "\t//evil.example",
    "/\r\n/evil.example",
    "/\r\nSet-Cookie: an_session=planted",
    "/check\r\nX-Injected: 1",
    "/\n/evil.example",
    "/\x00/evil.example",
    "/\x0b/evil.example",
    "/%0d%0a/evil.example",  # percent-escapes inside the value: not a route either
    "/%2f%2fevil.example",
    "/\u2215\u2215evil.example",  # DIVISION SLASH
    "/\uff0f\uff0fevil.example",  # FULLWIDTH SOLIDUS
    "/\u2044evil.example",  # FRACTION SLASH
    "/\u200b/evil.example",  # ZERO WIDTH SPACE
    "/\u3002evil.example",
    "javascript:alert(1)",
    " javascript:alert(1)",
    "/javascript:alert(1)",
    "https://evil.example/",
    "http:/evil.example",
    "evil.example",
    "data:text/html,<script>alert(1)</script>",
    "/check?x=1",
    "/check#frag",
    "/../check",
    "/static/style.css",
    "/no-such-page",
    "/lang",
    "/exit",  # the quick exit: a language switch must not end the session
    "/logout",  # a POST-only route: no page to land on
    "/" + "a" * 300,
    "",
]
LOCAL_NEXT = {
    "/": "/",
    "/check": "/check",
    "/alerts": "/alerts",
    "/admin/settings": "/admin/settings",
    "/review/12": "/review/12",
    "/supersede/" + "ab" * 32: "/supersede/" + "ab" * 32,
}


async def _switch(site: Site, target: str) -> tuple[int, str]:
    visitor = await site.visitor()
    status, _, resp = await visitor.switch_language("fr", target)
    return status, resp.headers.get("Location", "")


@pytest.mark.parametrize("target", HOSTILE_NEXT)
async def test_hostile_next_goes_home_without_an_exception(
    site: Site, target: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    status, location = await _switch(site, target)
    assert (status, location) == (303, "/"), repr(target)
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert problems == [], [r.getMessage() for r in problems]


async def test_a_page_of_this_site_is_kept(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for target, expected in LOCAL_NEXT.items():
        assert await _switch(site, target) == (303, expected), target
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_no_next_goes_home(site: Site) -> None:
    visitor = await site.visitor()
    status, _, resp = await visitor.post("/lang", {"to": "ru"}, page="/")
    assert (status, resp.headers["Location"]) == (303, "/")
