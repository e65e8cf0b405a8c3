"""A first pass through the main pages: each renders for the role that may see it."""

from __future__ import annotations

import pytest

from tests.node.test_web_support import Site, site_fixture  # noqa: F401

MEMBER_PAGES = ["/", "/check", "/alerts", "/report", "/reports", "/account", "/feed", "/bulletin"]
CASEWORKER_PAGES = ["/review", "/review/new", "/published"]
ADMIN_PAGES = ["/admin/members", "/admin/trust", "/admin/audit", "/admin/settings"]


async def test_anonymous_pages(site: Site) -> None:
    v = await site.visitor()
    for path in ["/", "/login", "/signup"]:
        status, html, _ = await v.get(path)
        assert status == 200, (path, html)


@pytest.mark.parametrize("role", ["member", "caseworker", "admin"])
async def test_pages_render_for_each_role(site: Site, role: str) -> None:
    v = await site.member(f"{role}1", role)
    allowed = MEMBER_PAGES + (CASEWORKER_PAGES if role != "member" else [])
    allowed += ADMIN_PAGES if role == "admin" else []
    for path in allowed:
        status, html, _ = await v.get(path)
        assert status == 200, (path, html)
    for path in CASEWORKER_PAGES + ADMIN_PAGES:
        if path not in allowed:
            status, _, _ = await v.get(path)
            assert status == 403, path
