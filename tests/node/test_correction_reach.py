"""A correction never reaches further than the alert it corrects (issue 12, item 11):
once the member's report was purged (retention, or she deleted it), the editor knew
no sharing limit any more, so a correction of an alert she let travel "this
organisation only" could be sent across the network. The limit now comes from the
corrected alert itself, in the alert service (web and CLI alike)."""

from __future__ import annotations

import re

import pytest

from node.errors import UsageError
from tests.federation.nodes import draft
from tests.node.test_web_flow import editor_fields, send_report
from tests.node.test_web_support import Site, site_fixture  # noqa: F401


async def _publish_from_report(site: Site, share: str) -> tuple[object, str]:
    member = await site.member("alice")
    await send_report(member, share=share, text="Refused to pay.")
    worker = await site.member("carol", "caseworker")
    _, html, _ = await worker.get("/review/1")
    fields = editor_fields(html)
    fields["action"] = "publish"
    status, html, _ = await worker.post("/review/1", fields)
    assert status == 303, html
    [alert] = await site.node.unlocked().alerts.list()
    return worker, alert["id"]


@pytest.mark.parametrize(("share", "hops", "tlp"), [("node", 0, "RED"), ("peers", 1, "GREEN")])
async def test_correction_after_the_report_was_purged_keeps_the_members_limit(
    site: Site, share: str, hops: int, tlp: str
) -> None:
    worker, old = await _publish_from_report(site, share)
    [published] = await site.node.unlocked().alerts.list()
    assert (published["hops"], published["tlp"]) == (hops, tlp)
    # Retention purges the report (as it does after report_retention_days).
    purged = await site.store.reports.purge_older_than(site.node.clock.now() + 86_400 + 1)
    assert purged == 1 and await site.store.reports.by_alert(bytes.fromhex(old)) is None

    status, html, _ = await worker.get(f"/supersede/{old}")  # type: ignore[attr-defined]
    assert status == 200
    fields = editor_fields(html)
    assert (fields["hops"], fields["tlp"]) == (str(hops), tlp)
    # Try to send the correction as far as the network goes.
    fields.update(hops="3", tlp="GREEN", action="publish")
    status, html, _ = await worker.post(f"/supersede/{old}", fields)  # type: ignore[attr-defined]
    assert status == 400, html
    assert re.search(rf'name="hops"[^>]*max="{hops}"', html), "the editor shows the alert's reach"
    # A wider TLP label is refused as well.
    if tlp == "RED":
        fields.update(hops="0", tlp="CLEAR")
        status, html, _ = await worker.post(f"/supersede/{old}", fields)  # type: ignore[attr-defined]
        assert status == 400 and "reaches no further than the alert it corrects" in html
    alerts = await site.node.unlocked().alerts.list()
    assert [(a["id"], a["hops"], a["tlp"]) for a in alerts] == [(old, hops, tlp)]

    # A correction within the alert's reach is published.
    fields.update(hops=str(hops), tlp=tlp, danger="2")
    status, html, _ = await worker.post(f"/supersede/{old}", fields)  # type: ignore[attr-defined]
    assert status == 303, html
    [new] = await site.node.unlocked().alerts.list()
    assert (new["supersedes"], new["hops"], new["tlp"], new["danger"]) == (old, hops, tlp, 2)


async def test_service_refuses_a_correction_that_reaches_further(site: Site) -> None:
    service = site.node.unlocked().alerts
    old = await service.publish(draft(1, hops=1, tlp="GREEN"))
    for wider in (
        {"hops": 2, "tlp": "GREEN"},
        {"hops": 1, "tlp": "CLEAR"},
        {"hops": 1, "tlp": "GREEN", "partner_checks": True},
    ):
        with pytest.raises(UsageError, match="reaches no further than the alert it corrects"):
            await service.publish(draft(2, supersedes=old, **wider))
    # No hops given (as from the CLI without --hops): the corrected alert's, not the
    # node's default.
    new = await service.publish(draft(2, hops=None, supersedes=old, tlp="AMBER+STRICT"))
    [stored] = await service.list()
    assert stored["id"] == new.hex() and (stored["hops"], stored["tlp"]) == (1, "AMBER+STRICT")
    # A correction of the correction is bound the same way.
    with pytest.raises(UsageError):
        await service.publish(draft(3, supersedes=new, hops=1, tlp="GREEN"))
