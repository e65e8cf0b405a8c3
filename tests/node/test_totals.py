"""Totals for funders (issue 16.3): monthly counters bumped as things happen, reported
by quarter with counts under 5 hidden; nothing per member and nothing finer than a
month is stored."""

from __future__ import annotations

import calendar
import json
from typing import Any

import aiohttp

from node.store.totals import CODES, COUNTERS, GAUGES
from node.totals import FEWER_THAN, months_between, periods, quarter_of
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually, has_alert, pair
from tests.node.test_web_support import StillClock

# 2026-08-20 12:00 UTC: Q3.
AUGUST = calendar.timegm((2026, 8, 20, 12, 0, 0))
OCTOBER = calendar.timegm((2026, 10, 5, 12, 0, 0))


async def call(node: Any, name: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    connector = aiohttp.UnixConnector(path=str(node.data_dir / "control.sock"))
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.post(f"http://alertnode/v1/{name}", json=args) as resp,
    ):
        return resp.status, json.loads(await resp.text())


def test_quarters_and_small_counts() -> None:
    assert quarter_of("2026-01") == "2026-Q1" and quarter_of("2026-12") == "2026-Q4"
    assert months_between("2026-11", "2027-02") == ["2026-11", "2026-12", "2027-01", "2027-02"]
    values = {
        "2026-08": {"checks": 3, "reports": 7, "members": 12},
        "2026-09": {"checks": 3, "members": 14},
        "2026-10": {"checks": 4},
    }
    q3, q4 = periods(values, "2026-08", "2026-10")
    assert q3["period"] == "2026-Q3" and (q3["first_month"], q3["last_month"]) == (
        "2026-08",
        "2026-09",
    )
    assert q3["checks"] == 6 and q3["reports"] == 7 and q3["members"] == 14
    assert q3["alerts_received"] == FEWER_THAN  # 0 is under 5 too
    assert q4["checks"] == FEWER_THAN and q4["members"] == FEWER_THAN


async def test_counts_are_bumped_as_things_happen_and_reported_by_quarter(
    make_node: NodeFactory,
) -> None:
    clock = StillClock(AUGUST)
    a = await make_node("A", clock=clock)
    b = await make_node("B", clock=StillClock(AUGUST))
    await pair(a, b)
    store = a.unlocked().store
    for n in range(5):
        await store.reports.create(None, {"text": f"report {n}"}, clock.now())
        await a.unlocked().alerts.check("phone", f"+4477009001{n:02d}")
    for n in range(6):
        code = await store.members.create_invite("member", clock.now() + 86400, clock.now())
        await store.members.redeem_invite(code, f"member{n}", "x" * 32, clock.now())
    await a.unlocked().alerts.publish(draft(1))
    received = await b.unlocked().alerts.publish(draft(2))
    await a.unlocked().trust.sync_now()
    await eventually(lambda: has_alert(a, received))
    clock.advance(OCTOBER - AUGUST)
    await a.unlocked().alerts.check("phone", "+447700900999")
    status, answer = await call(a, "totals", {"from_month": "2026-07", "to": "2026-12"})
    assert status == 200, answer
    q3, q4 = answer["periods"]
    assert q3 == {
        "period": "2026-Q3",
        "first_month": "2026-07",
        "last_month": "2026-09",
        "members": FEWER_THAN,  # recorded in October, not in Q3
        "new_members": 6,
        "checks": 5,
        "reports": 5,
        "alerts_published": FEWER_THAN,
        "warnings_published": FEWER_THAN,
        "alerts_received": FEWER_THAN,
    }
    assert q4["members"] == 6 and q4["checks"] == FEWER_THAN
    # What is stored: months and counter names, nothing else.
    rows = await store.db.fetchall("SELECT month, counter, n FROM monthly_counts")
    assert {r[0] for r in rows} == {"2026-08", "2026-10"}
    assert {r[1] for r in rows} <= {CODES[name] for name in (*COUNTERS, *GAUGES)}
    by = {(r[0], r[1]): r[2] for r in rows}
    assert by[("2026-08", CODES["alerts_received"])] == 1
    assert by[("2026-08", CODES["alerts_published"])] == 1


async def test_a_bad_range_is_refused(make_node: NodeFactory) -> None:
    a = await make_node("A")
    for args in (
        {"from_month": "2026-13"},
        {"to": "26-01"},
        {"from_month": "2026-05", "to": "2026-04"},
    ):
        status, answer = await call(a, "totals", args)
        assert status == 400, (args, answer)
    status, answer = await call(a, "totals", {})
    assert status == 200 and answer["periods"]


async def test_the_admin_page_shows_quarters_the_funder_text_and_saves_a_file(
    make_node: NodeFactory,
) -> None:
    from aiohttp.test_utils import TestServer

    from node.web import web_app
    from tests.node.test_web_support import Site

    node = await make_node("A", clock=StillClock(AUGUST))
    server = TestServer(web_app(node))
    await server.start_server()
    site = Site(node, server)
    try:
        store = node.unlocked().store
        for n in range(7):
            await store.reports.create(None, {"text": f"r{n}"}, AUGUST)
        admin = await site.member("boss", "admin")
        member = await site.member("mira")
        status, _, _ = await member.get("/admin/totals")
        assert status in (302, 303, 403, 404)
        status, html, _ = await admin.get("/admin/totals")
        assert status == 200 and "holds no names" not in html and "keeps no names" in html
        assert "2026-Q3" in html and "<td>7</td>" in html and "fewer than 5" in html
        status, html, _ = await admin.post(
            "/admin/totals", {"from": "2026-09", "to": "2026-09", "save": ""}, page="/admin/totals"
        )
        assert status == 200 and "<td>7</td>" not in html  # August is outside
        status, text, resp = await admin.post(
            "/admin/totals", {"from": "2026-07", "to": "", "save": "file"}, page="/admin/totals"
        )
        assert status == 200 and resp.headers["Content-Type"].startswith("text/plain")
        assert "attachment" in resp.headers["Content-Disposition"]
        assert "keeps no names" in text and "Reports: 7" in text
        status, html, _ = await admin.post(
            "/admin/totals", {"from": "2026-13", "to": ""}, page="/admin/totals"
        )
        assert status == 400
    finally:
        await site.close()
