"""Retention: the hourly job purges each kind of old data on time, on a fake clock,
and ``status`` shows what it last did."""

from __future__ import annotations

import asyncio

from federation.clock import FakeClock
from node.app import Node
from node.commands import client as control
from node.ops.jobs import RETENTION_INTERVAL_S
from node.store.members import hash_passphrase
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually

DAY_S = 86400


class SteppedClock(FakeClock):
    """A fake clock whose ``sleep`` waits until the test moves time far enough."""

    async def sleep(self, seconds: float) -> None:
        target = self.t + seconds
        while self.t < target:
            await asyncio.sleep(0.005)


async def _next_run(node: Node, clock: SteppedClock, days: float) -> dict[str, object]:
    """Move time on; wait for the retention job's run at the new time."""
    clock.advance(int(days * DAY_S))

    async def ran() -> bool:
        return node.jobs.last.get("retention", {}).get("at") == clock.now()

    await eventually(ran, timeout=10)
    return node.jobs.last["retention"]


async def test_each_purge_runs_on_time_and_status_shows_it(make_node: NodeFactory) -> None:
    clock = SteppedClock()
    node = await make_node("A", clock=clock)
    unlocked = node.unlocked()
    store, service, settings = unlocked.store, unlocked.alerts, unlocked.settings
    t0 = clock.now()
    # init's admin invite is dated by the real clock; drop it so counts are exact.
    await store.members.purge_invites(2**40)
    short = await service.publish(draft(1, expires_days=1))
    long = await service.publish(draft(2, expires_days=30))
    retracted = await service.publish(draft(3, expires_days=2))
    await service.retract(retracted, "mistaken")
    await store.members.create_invite("member", t0 + 2 * DAY_S, t0)
    await store.members.create_invite("member", t0 + 200 * DAY_S, t0)
    code = await store.members.create_invite("member", t0 + 3600, t0)
    member = await store.members.redeem_invite(code, "Keeper", hash_passphrase("k" * 12), t0)
    await store.reports.create(member.id, {"text": "old report"}, t0)
    await store.audit.append(t0, {"actor": member.id, "action": "publish"})
    assert settings["report_retention_days"] == 90
    assert settings["audit_retention_days"] == 365

    first = await _next_run(node, clock, 0)
    assert first["ok"] is True
    assert (first["alerts"], first["retractions"], first["reports"], first["audit"]) == (0, 0, 0, 0)

    # Day 1: the one-day alert has expired; nothing else.
    result = await _next_run(node, clock, 1 + 1 / 24)
    assert (result["alerts"], result["retractions"], result["invites"]) == (1, 0, 0)
    assert await store.alerts.get_alert(short, clock.now()) is None
    assert await store.alerts.get_alert(long, clock.now()) is not None

    # Day 3: the retraction and its tombstone (expiring with the alert), the 2-day invite.
    result = await _next_run(node, clock, 2)
    assert (result["alerts"], result["retractions"], result["invites"]) == (1, 1, 1)
    assert (await store.alerts.counts(clock.now()))["retractions"] == 0

    # Day 91: the 30-day alert and the report past the 90-day retention.
    result = await _next_run(node, clock, 88)
    assert (result["alerts"], result["reports"], result["audit"]) == (1, 1, 0)
    assert await store.reports.list() == []

    # Day 366: the audit entry; the 200-day invite went on the way.
    result = await _next_run(node, clock, 275)
    assert (result["audit"], result["invites"], result["reports"]) == (1, 1, 0)
    assert await store.audit.list() == []

    # Between runs nothing happens: the next one is an hour on.
    at = node.jobs.last["retention"]["at"]
    clock.advance(RETENTION_INTERVAL_S // 2)
    await asyncio.sleep(0.05)
    assert node.jobs.last["retention"]["at"] == at

    status = await control.call(node.data_dir, "status")
    assert status["jobs"]["retention"] == {**result, "at": at}
