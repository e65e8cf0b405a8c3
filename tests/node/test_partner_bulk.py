"""A partner's bulk check runs its indicators' slow hashes side by side, as many as
the slow-hash pool runs at once and no more, so a member's own check never waits
behind a whole bulk check (docs/partners.md, docs/threat-model.md)."""

from __future__ import annotations

import asyncio
from typing import Any

from federation.clock import FakeClock
from node.keys.slowhash import MAX_CONCURRENT_SLOW_HASHES
from node.partners import PartnerService
from tests.node.test_web_support import Site, site_fixture  # noqa: F401


class CountingAlerts:
    """Stands in for AlertService.check: records how many checks run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0

    async def check(self, kind: str, value: str) -> dict[str, Any]:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.01)
        self.running -= 1
        return {"alerts": []}


async def test_a_bulk_check_fills_the_pool_and_no_more(site: Site) -> None:
    alerts = CountingAlerts()
    service = PartnerService(
        site.store,
        alerts,
        FakeClock(1_700_000_000),
        lambda: [],
        lambda: "GB",  # type: ignore[arg-type]
    )
    partner, _token = await site.store.partners.add("Bulk", ("check",), 1_700_000_000)
    items = [("phone", f"07700 900{i:03d}") for i in range(40)]
    results = await service.check(partner, items)
    assert [r["value"] for r in results] == [v for _, v in items]  # answers stay in order
    assert alerts.most == MAX_CONCURRENT_SLOW_HASHES
