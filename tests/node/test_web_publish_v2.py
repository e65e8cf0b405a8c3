"""Publishing from the web form in v2: a double-submitted form makes one alert, a
translation reaches readers of that language, the partner flag reaches the wire."""

from __future__ import annotations

from protocol.alert import read_stored_alert
from tests.node.test_web_flow import editor_fields
from tests.node.test_web_support import Site, site_fixture  # noqa: F401


async def test_a_double_submitted_form_makes_one_alert_readers_see_their_language(
    site: Site,
) -> None:
    worker = await site.member("carol", "caseworker")
    _, html, _ = await worker.get("/review/new")
    fields = editor_fields(html)
    assert len(str(fields["idempotency"])) >= 16
    fields.update(
        categories=["stalking"],
        danger="3",
        region="GB-LND",
        description="Followed her home.",
        lang="en",
        translation_lang="fr",
        translation="L'a suivie jusque chez elle.",
        partner_checks="yes",
        action="publish",
    )
    for _ in range(2):
        status, html, _ = await worker.post("/review/new", fields)
        assert status == 303, html
    alerts = await site.node.unlocked().alerts.list()
    assert len(alerts) == 1
    assert alerts[0]["descriptions"]["fr"] == "L'a suivie jusque chez elle."
    assert alerts[0]["partner_checks"] is True
    now = site.node.clock.now()
    stored = await site.store.alerts.get_alert(bytes.fromhex(alerts[0]["id"]), now)
    assert stored is not None and read_stored_alert(stored.envelope).partner_checks

    # A new form is a new key: the same words again are a second alert.
    _, html, _ = await worker.get("/review/new")
    fields["idempotency"] = editor_fields(html)["idempotency"]
    status, html, _ = await worker.post("/review/new", fields)
    assert status == 303, html
    assert len(await site.node.unlocked().alerts.list()) == 2

    member = await site.member("alice")
    _, html, _ = await member.get("/alerts")
    assert "Followed her home." in html
    await member.switch_language("fr")
    _, html, _ = await member.get("/alerts")
    assert "suivie jusque chez elle" in html and "Followed her home." not in html
