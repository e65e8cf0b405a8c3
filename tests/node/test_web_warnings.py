"""Area warnings on the web: the caseworkers' form exists only while the organisation
offers them; a published warning shows in its own section of the alerts page, apart
from alerts about clients, and is retracted from the Published page like an alert."""

from __future__ import annotations

import re

from tests.node.test_web_support import Site, site_fixture  # noqa: F401

WARNING = {
    "kind": "immigration",
    "danger": "3",
    "region": "GB-MAN",
    "description": "Immigration checks at the bus station this week.",
    "expires_days": "5",
}


async def test_caseworker_publishes_a_warning_members_see_it_apart(site: Site) -> None:
    caseworker = await site.member("case", "caseworker")
    member = await site.member("mira")
    status, _, _ = await caseworker.get("/warnings/new")
    assert status == 404  # off by default: the organisation has not chosen them
    status, html, _ = await caseworker.get("/review")
    assert "/warnings/new" not in html
    site.node.unlocked().settings.set("area_warnings", True)
    status, html, _ = await caseworker.get("/review")
    assert "/warnings/new" in html
    status, html, _ = await caseworker.get("/warnings/new")
    assert status == 200 and 'name="phone"' not in html
    status, html, _ = await caseworker.post("/warnings/new", WARNING)
    assert status == 303, html
    [item] = await site.node.unlocked().alerts.list()
    assert item["warning"] == "immigration" and item["indicators"] == []
    assert item["expires"] - item["created"] == 5 * 86400
    status, html, _ = await member.get("/alerts")
    warnings, _, clients = html.partition("Alerts about clients")
    assert "Area warnings" in warnings and "Immigration operation" in warnings
    assert "bus station" in warnings and "bus station" not in clients
    # Off again: members no longer see them, the form is gone.
    site.node.unlocked().settings.set("area_warnings", False)
    status, html, _ = await member.get("/alerts")
    assert "bus station" not in html
    status, _, _ = await caseworker.get("/warnings/new")
    assert status == 404
    # Retracted like any alert, from the Published page.
    status, html, _ = await caseworker.get("/published")
    assert item["id"] in html
    status, html, _ = await caseworker.post(
        f"/published/{item['id']}/retract",
        {"reason": "mistaken", "confirm": "yes"},
        page="/published",
    )
    assert status == 303, html
    assert await site.node.unlocked().alerts.list() == []


async def test_a_bad_warning_form_is_refused_and_publishes_nothing(site: Site) -> None:
    caseworker = await site.member("case", "caseworker")
    site.node.unlocked().settings.set("area_warnings", True)
    for changes in ({"kind": "client"}, {"expires_days": "31"}, {"region": "FR"}):
        status, html, _ = await caseworker.post(
            "/warnings/new", {**WARNING, **changes}, page="/warnings/new"
        )
        assert status == 400, changes
        assert re.search(r'class="error-summary"', html)
    assert await site.node.unlocked().alerts.list() == []


async def test_turning_warnings_off_on_the_admin_page_removes_them(site: Site) -> None:
    """Clean-room finding (brief O2): warnings held stayed listed and served after the
    admin turned the setting off."""
    caseworker = await site.member("case", "caseworker")
    admin = await site.member("root", "admin")
    site.node.unlocked().settings.set("area_warnings", True)
    status, html, _ = await caseworker.post("/warnings/new", WARNING)
    assert status == 303, html
    assert len(await site.node.unlocked().alerts.list()) == 1
    _, html, _ = await admin.get("/admin/settings")
    fields = dict(re.findall(r'<input id="f-([a-z_]+)" name="[a-z_]+" value="([^"]*)"', html))
    fields.update(
        re.findall(
            r'<select id="f-([a-z_]+)" name="[a-z_]+"[^>]*>\s*<option value="([^"]*)" selected',
            html,
        )
    )
    fields["area_warnings"] = "no"
    status, html, _ = await admin.post("/admin/settings", fields, page="/admin/settings")
    assert status == 303, html
    assert site.node.unlocked().settings["area_warnings"] is False
    assert await site.node.unlocked().alerts.list() == []
