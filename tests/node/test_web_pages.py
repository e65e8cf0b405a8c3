"""The alerts page at depth (issue 17, item 5): filters are answered by the store over
every active alert, not over a fetched window of the newest, and a member pages to
older alerts by POST (the cursor stays in the session, never in a URL)."""

from __future__ import annotations

import hashlib

from protocol.alert import AlertBody, Indicator, coarsen_hour, sign_alert
from protocol.fields import CATEGORIES
from tests.node.test_store import KEY_A
from tests.node.test_web_support import Site, site_fixture

__all__ = ["site_fixture"]

HOUR = 3600


async def store_alerts(site: Site, specs: list[tuple[str, str, int]]) -> None:
    """One alert per (description, category, hours ago), all in the node's region."""
    now = site.node.clock.now()
    region = site.node.unlocked().settings["regions"][0]
    batch = [
        (
            sign_alert(
                AlertBody(
                    origin=bytes(KEY_A.verify_key),
                    created=coarsen_hour(now) - HOUR * hours,
                    expires=coarsen_hour(now) + 30 * 86400,
                    incident="2026-01-01",
                    region=region,
                    categories=(category,),
                    danger=1,
                    indicators=(Indicator("phone", b"\x07" * 32, bytes(8), 1),),
                    description=text,
                    lang="en",
                    hops=2,
                    tlp="GREEN",
                    nonce=hashlib.blake2b(text.encode(), digest_size=16).digest(),
                ),
                KEY_A,
                now,
            ),
            1,
            None,
        )
        for text, category, hours in specs
    ]
    await site.store.alerts.put_batch(batch, now)


async def test_a_category_held_only_by_old_alerts_is_found_under_600_newer_ones(
    site: Site,
) -> None:
    # Before: the page fetched the 500 newest and filtered them in Python, so these
    # three (older than 600 alerts of another category) were never shown.
    await store_alerts(site, [(f"Newer {n}.", "other", 1) for n in range(600)])
    await store_alerts(site, [(f"Old blackmail {n}.", CATEGORIES[6], 5) for n in range(3)])
    member = await site.member("alice")
    assert (await member.post("/alerts", {"category": CATEGORIES[6]}, page="/alerts"))[0] == 303
    status, html, _ = await member.get("/alerts")
    assert status == 200, html
    assert all(f"Old blackmail {n}." in html for n in range(3))
    assert "Newer 1." not in html


async def test_a_member_pages_to_older_alerts_and_back(site: Site) -> None:
    await store_alerts(site, [(f"Alert number {n}.", "other", n // 10) for n in range(150)])
    member = await site.member("alice")
    status, html, _ = await member.get("/alerts")
    assert status == 200 and html.count("Alert number ") == 100
    assert "Alert number 0." in html and "Alert number 149." not in html
    next_page = html.split('name="before" value="', 1)[1].split('"', 1)[0]
    assert next_page
    assert (await member.post("/alerts/older", {"before": next_page}, page="/alerts"))[0] == 303
    status, html, resp = await member.get("/alerts")
    assert status == 200 and html.count("Alert number ") == 50
    assert "Alert number 149." in html and "Alert number 0." not in html
    assert next_page not in str(resp.url)
    assert "Newest alerts" in html
    assert (await member.post("/alerts/older", {"before": ""}, page="/alerts"))[0] == 303
    _, html, _ = await member.get("/alerts")
    assert "Alert number 0." in html and html.count("Alert number ") == 100
