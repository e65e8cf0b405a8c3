"""A member's control over what she reported (issue 14, item 7): she can have the
alert made from her report withdrawn, and the retraction that reaches other
organisations says it was at the reporter's request; and she can ask for help on a
report, which a caseworker answers on her reports page, all sealed on this node.

Two real in-process nodes on loopback (tests/federation/nodes.py), the web app of
the first served in process (tests/node/test_web_support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from node.app import Node
from node.store import DB_FILE
from node.web import web_app
from protocol.retraction import read_stored_retraction
from tests.conftest import NodeFactory
from tests.federation.nodes import eventually, has_alert, pair
from tests.node.test_web_flow import editor_fields, send_report
from tests.node.test_web_support import Site, Visitor, site_fixture  # noqa: F401

SURE = {"sure": "yes"}


@pytest.fixture(name="two")
async def two_fixture(make_node: NodeFactory) -> AsyncIterator[tuple[Site, Node]]:
    """Node A with its web app, and node B, its peer."""
    a = await make_node("A")
    b = await make_node("B")
    a.unlocked().settings.set("regions", ["GB-LND", "GB-MAN"])
    await pair(a, b)
    server = TestServer(web_app(a))
    await server.start_server()
    site = Site(a, server)
    try:
        yield site, b
    finally:
        await site.close()


async def _published(site: Site) -> tuple[Visitor, Visitor, bytes]:
    """A member's report, published by a caseworker: (member, caseworker, alert id)."""
    member = await site.member("alice")
    await send_report(member, share="network", text="Refused to pay.")
    worker = await site.member("carol", "caseworker")
    _, html, _ = await worker.get("/review/1")
    fields = editor_fields(html)
    fields["action"] = "publish"
    status, html, _ = await worker.post("/review/1", fields)
    assert status == 303, html
    [alert] = await site.node.unlocked().alerts.list()
    return member, worker, bytes.fromhex(alert["id"])


async def _retraction_reason(node: Node, alert_id: bytes) -> str | None:
    """The reason of the retraction ``node`` holds for ``alert_id``, if any."""
    store = node.unlocked().store
    rows = [r for r in await store.alerts.feed(0, 1000) if r.kind == "r"]
    found = await store.alerts.get_envelopes([r.id for r in rows], node.clock.now())
    for envelope in found.values():
        body = read_stored_retraction(envelope)
        if body.alert == alert_id:
            return body.reason
    return None


@pytest.mark.parametrize("mode", ["caseworker", "immediate"])
async def test_a_withdrawal_reaches_the_peer_as_a_retraction_at_the_reporters_request(
    two: tuple[Site, Node], mode: str
) -> None:
    site, b = two
    site.node.unlocked().settings.set("report_withdrawal", mode)
    member, worker, alert_id = await _published(site)
    await eventually(lambda: has_alert(b, alert_id))

    _, html, _ = await member.get("/reports")
    assert "Withdraw the alert made from this report" in html
    # Without the tick box nothing happens.
    status, _, resp = await member.post("/reports/1/withdraw", {}, page="/reports")
    assert resp.headers["Location"] == "/reports"
    assert not (await site.store.reports.get(1)).withdraw
    status, _, resp = await member.post("/reports/1/withdraw", SURE, page="/reports")
    assert status == 303
    store = site.store
    if mode == "caseworker":
        assert resp.headers["Location"] == "/reports"
        report = await store.reports.get(1)
        assert report.withdraw and report.status == "published"
        assert await has_alert(site.node, alert_id), "nothing is retracted before she is heard"
        _, html, _ = await member.get("/reports")
        assert "A caseworker will confirm it." in html
        # She cannot confirm it herself: that is the caseworker's part.
        assert (await member.post("/review/1/withdraw", {}, page="/reports"))[0] == 403
        _, html, _ = await worker.get("/review")
        assert "asks for the alert made from this report to be withdrawn" in html
        status, _, resp = await worker.post("/review/1/withdraw", {}, page="/review")
        assert status == 303 and resp.headers["Location"] == "/review"
    else:
        assert resp.headers["Location"] == "/reports"

    report = await store.reports.get(1)
    assert (report.status, report.withdraw) == ("withdrawn", False)
    assert not await has_alert(site.node, alert_id)
    assert await _retraction_reason(site.node, alert_id) == "reporter-request"
    # Waited for whole: B stores the retraction in a transaction of several
    # statements, and a read between them sees the alert gone before the retraction
    # is in B's feed.
    await eventually(lambda: _withdrawn_at(b, alert_id))
    [entry, *_] = await store.audit.list()
    assert (entry["action"], entry["reason"]) == ("retract", "reporter-request")
    assert entry["role"] == ("caseworker" if mode == "caseworker" else "member")
    # The report cannot be published again from the editor.
    _, html, _ = await worker.get("/review/1")
    fields = editor_fields(html)
    fields["action"] = "publish"
    status, html, _ = await worker.post("/review/1", fields)
    assert status == 400 and "The member withdrew this report." in html


async def _gone(node: Node, alert_id: bytes) -> bool:
    return not await has_alert(node, alert_id)


async def _withdrawn_at(node: Node, alert_id: bytes) -> bool:
    """``node`` no longer holds the alert and holds its retraction at the reporter's
    request."""
    reason = await _retraction_reason(node, alert_id)
    return reason == "reporter-request" and await _gone(node, alert_id)


async def test_an_unpublished_report_is_withdrawn_at_once_and_is_never_published(
    site: Site,
) -> None:
    member = await site.member("alice")
    await send_report(member)
    status, _, resp = await member.post("/reports/1/withdraw", SURE, page="/reports")
    assert status == 303 and resp.headers["Location"] == "/reports"
    assert (await site.store.reports.get(1)).status == "withdrawn"
    worker = await site.member("carol", "caseworker")
    _, html, _ = await worker.get("/review")
    assert "/review/1" not in html
    assert await site.node.unlocked().alerts.list() == []


async def test_only_her_own_report_can_be_withdrawn_or_flagged(site: Site) -> None:
    member = await site.member("alice")
    await send_report(member)
    other = await site.member("bea")
    assert (await other.post("/reports/1/withdraw", SURE, page="/reports"))[0] == 404
    data: dict[str, Any] = {"want": "yes", "note": "x"}
    assert (await other.post("/reports/1/help", data, page="/reports"))[0] == 404
    report = await site.store.reports.get(1)
    assert (report.status, report.help, report.messages) == ("new", False, ())


async def test_help_request_round_trip(site: Site) -> None:
    member = await site.member("alice")
    await send_report(member)
    worker = await site.member("carol", "caseworker")
    # The report is declined: a help request still brings it back to the queue.
    await worker.post("/review/1/decline", {}, page="/review")
    _, html, _ = await worker.get("/review")
    assert "/review/1" not in html

    note = "Please call me on the number I gave you last time."
    status, _, resp = await member.post(
        "/reports/1/help", {"want": "yes", "note": note}, page="/reports"
    )
    assert status == 303 and resp.headers["Location"] == "/reports"
    _, html, _ = await member.get("/reports")
    assert "You asked for help." in html and note in html
    # While the request is open she can write again.
    more = "Evenings are best."
    await member.post("/reports/1/help", {"want": "yes", "note": more}, page="/reports")

    _, html, _ = await worker.get("/review")
    assert "/review/1" in html and "The member asks for help." in html
    assert note in html and more in html
    answer = "We can meet at the drop-in on Tuesday."
    status, _, resp = await worker.post(
        "/review/1/message", {"text": answer, "close": "yes"}, page="/review"
    )
    assert status == 303 and resp.headers["Location"] == "/review"

    _, html, _ = await member.get("/reports")
    assert answer in html and "A caseworker wrote on" in html
    assert "You asked for help." not in html, "the request is closed"
    report = await site.store.reports.get(1)
    assert not report.help
    assert [m["from"] for m in report.messages] == ["member", "member", "caseworker"]
    # Nothing of it is in the database file in clear, and nothing in the audit log.
    raw = b"".join(p.read_bytes() for p in site.node.data_dir.glob(DB_FILE + "*"))
    assert raw
    assert not any(m.encode() in raw for m in (note, more, answer))
    assert all(e["action"] != "help" for e in await site.store.audit.list())

    # She asks again, then says she no longer needs it.
    await member.post("/reports/1/help", {"want": "yes"}, page="/reports")
    assert (await site.store.reports.get(1)).help
    status, _, resp = await member.post("/reports/1/help", {"want": "no"}, page="/reports")
    assert resp.headers["Location"] == "/reports"
    report = await site.store.reports.get(1)
    assert not report.help and len(report.messages) == 3


async def test_a_status_change_keeps_her_requests(site: Site) -> None:
    member = await site.member("alice")
    await send_report(member)
    await member.post("/reports/1/help", {"want": "yes", "note": "hello"}, page="/reports")
    await site.store.reports.set_status(1, "reviewed")
    report = await site.store.reports.get(1)
    assert report.status == "reviewed" and report.help and len(report.messages) == 1
