"""Admin pages: the trust list through federation, settings, and the audit log."""

from __future__ import annotations

import re
from typing import Any

from tests.node.test_web_support import Site, site_fixture  # noqa: F401


async def test_trust_list_add_change_and_remove_a_peer(site: Site, make_node: Any) -> None:
    other = await make_node(name="Other organisation")
    card = other.unlocked().trust.card()
    admin = await site.member("root", "admin")
    _, html, _ = await admin.get("/admin/trust")
    assert "No peers yet" in html and "Add a peer" in html
    status, html, _ = await admin.post(
        "/admin/trust", {"op": "add", "card": card, "accept": "direct", "share": "yes"}
    )
    assert status == 303, html
    _, html, _ = await admin.get("/admin/trust")
    assert "Other organisation" in html
    key = re.search(r'name="key" value="([0-9a-f]{64})"', html).group(1)  # type: ignore[union-attr]
    status, html, _ = await admin.post(
        "/admin/trust", {"op": "set", "key": key, "accept": "relay", "suspended": "yes"}
    )
    assert status == 303, html
    peers = await site.store.peers.list()
    assert [(p.accept, p.share, p.suspended) for p in peers] == [("relay", False, True)]
    status, html, _ = await admin.post("/admin/trust", {"op": "add", "card": "nonsense"})
    assert status == 400 and 'class="notice error"' in html
    status, _, _ = await admin.post("/admin/trust", {"op": "remove", "key": key, "confirm": "yes"})
    assert status == 303
    assert await site.store.peers.list() == []


async def test_settings_are_saved_and_used(site: Site) -> None:
    admin = await site.member("root", "admin")
    _, html, _ = await admin.get("/admin/settings")
    fields = dict(re.findall(r'<input id="f-([a-z_]+)" name="[a-z_]+" value="([^"]*)"', html))
    fields.update(
        re.findall(
            r'<select id="f-([a-z_]+)" name="[a-z_]+"[^>]*>\s*<option value="([^"]*)" selected',
            html,
        )
    )
    assert fields["report_withdrawal"] == "caseworker"
    assert fields["regions"] == "GB-LND GB-MAN"
    fields["regions"] = "FR-75, FR-13"
    fields["checks_per_hour"] = "5"
    status, html, _ = await admin.post("/admin/settings", fields, page="/admin/settings")
    assert status == 303, html
    settings = site.node.unlocked().settings
    assert settings["regions"] == ["FR-13", "FR-75"] and settings["checks_per_hour"] == 5
    assert (await site.store.settings.all())["regions"] == ["FR-13", "FR-75"]
    _, html, _ = await admin.get("/report")
    assert 'value="FR-75"' in html and "GB-LND" not in html
