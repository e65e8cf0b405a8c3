"""``python -m bench.fill`` fills a stopped node with alerts its checks and pages find,
adds more on a second run, and refuses a running node, changing nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.fill import phone_slots
from bench.nodes import make_dir, start_node
from bench.shared import COPIES_PER_PHONE, PHONES_HIT
from protocol.alert import read_stored_alert

ROOT = Path(__file__).resolve().parent.parent


def fill(data: Path, alerts: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.fill", "--data", str(data), "--alerts", str(alerts)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_each_phone_is_named_by_its_copies_spread_over_the_range() -> None:
    slots = phone_slots(1_000, 600)
    assert len(slots) == len(set(slots)) == len(PHONES_HIT) * COPIES_PER_PHONE
    assert slots[0] == 1_000 and slots[-1] < 1_600 and slots[1] - slots[0] == 10
    # Fewer alerts than copies: one each, as many as there are.
    assert phone_slots(5, 4) == [5, 6, 7, 8]


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_a_filled_node_finds_its_phones_and_a_running_one_is_refused(
    short_tmp: Path,
) -> None:
    data = await make_dir(short_tmp, "F")
    first = fill(data, 200)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) | {"seconds": 0} == {
        "added": 200, "before": 0, "after": 200, "seconds": 0
    }  # fmt: skip
    second = fill(data, 100)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["after"] == 300

    node = await start_node(data)
    try:
        service = node.unlocked().alerts
        # Three copies of the first number in each fill; a number never used, none.
        hit = await service.check("phone", PHONES_HIT[0])
        assert len(hit["alerts"]) == 2 * COPIES_PER_PHONE, hit
        assert (await service.check("phone", "+44 7700 901000"))["alerts"] == []
        page, _ = await node.unlocked().store.alerts.page_active(
            node.clock.now(), limit=50, regions=("GB-R00",)
        )
        # One region of twenty: its fifteen alerts, and only they.
        assert len(page) == 15
        assert {read_stored_alert(envelope).region for _, envelope in page} == {"GB-R00"}
        # The node runs: a fill is refused and adds nothing.
        refused = fill(data, 10)
        assert refused.returncode == 1 and "stop it first" in refused.stderr
        row = await node.unlocked().store.db.fetchone("SELECT count(*) FROM alerts")
        assert row is not None and row[0] == 300
    finally:
        await node.stop()
