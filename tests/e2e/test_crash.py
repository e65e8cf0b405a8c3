"""SIGKILL a node at random points during ingest, publishing and sync, 50 times:
nothing acknowledged is lost, nothing is duplicated, the database stays sound and
sync resumes from the saved cursor. And once in the middle of a long catch-up."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from node.keys import keystore
from node.store import Store
from protocol.alert import AlertBody, coarsen_hour, sign_alert
from tests.e2e.cli import COMMAND, RunningNode, alertnode_json
from tests.e2e.test_federation_cli import init, peer_both_ways, wait_for

pytestmark = pytest.mark.slow

KILLS = 50
PRELOADED = 400
PRELOAD_BATCH = 500
# Enough for a catch-up that lasts well over a second, so that a kill as soon as
# the first batch is stored lands in the middle of it.
CATCH_UP = 4000
KILL_POLL_S = 0.005


async def preload(data: Path, count: int) -> None:
    """Sign ``count`` alerts with the node's own key straight into its store (offline)."""
    unlocked = keystore.unlock(data, None)
    store = await Store.open(data, unlocked.data_key)
    try:
        now = int(time.time())
        origin = bytes(unlocked.signing_key.verify_key)
        batch = []
        for i in range(count):
            body = AlertBody(
                origin=origin, created=coarsen_hour(now), expires=coarsen_hour(now) + 30 * 86400,
                incident="2026-11-01", region="GB", categories=("other",), danger=1,
                indicators=(), description=f"preloaded {i}", lang="en", hops=2, tlp="GREEN",
                nonce=i.to_bytes(16, "big"),
            )  # fmt: skip
            batch.append((sign_alert(body, unlocked.signing_key, now), 0, None))
            if len(batch) == PRELOAD_BATCH or i == count - 1:
                await store.alerts.put_batch(batch, now)
                batch = []
    finally:
        await store.close()


def alert_ids(data: Path) -> list[str]:
    return [a["id"] for a in alertnode_json("alert", "list", "--data", str(data))["alerts"]]


def test_fifty_kills_lose_nothing_acknowledged(short_tmp: Path) -> None:
    rng = random.Random(2026)
    a, b = init(short_tmp, "a"), init(short_tmp, "b")
    asyncio.run(preload(a, PRELOADED))
    node_a, node_b = RunningNode(a), RunningNode(b)
    acknowledged: set[str] = set()
    try:
        peer_both_ways(a, b)
        node_b.kill()
        for cycle in range(KILLS):
            node_b = RunningNode(b)
            publish = subprocess.Popen(
                [*COMMAND, "alert", "publish", "--data", str(b), "--category", "other",
                 "--danger", "1", "--region", "GB", "--description", f"cycle {cycle}", "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            if cycle % 5 == 0:
                subprocess.Popen(
                    [*COMMAND, "alert", "publish", "--data", str(a), "--category", "other",
                     "--danger", "1", "--region", "GB", "--description", f"a {cycle}"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                ).wait(timeout=30)  # fmt: skip
            time.sleep(rng.uniform(0.0, 0.6))
            node_b.kill()
            out, _ = publish.communicate(timeout=30)
            if publish.returncode == 0:
                acknowledged.add(json.loads(out)["id"])
        node_b = RunningNode(b)
        expected = set(alert_ids(a))
        assert len(expected) >= PRELOADED
        wait_for(lambda: expected <= set(alert_ids(b)), timeout=60)
        present = set(alert_ids(b))
        assert acknowledged <= present, "an acknowledged alert was lost"
        assert len(acknowledged) > 0
        peers = alertnode_json("peer", "list", "--data", str(b))["peers"]
        assert peers[0]["lag"] == 0 and peers[0]["last_error"] is None
    finally:
        node_b.stop()
        node_a.stop()
    db = sqlite3.connect(b / "store.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        total, distinct = db.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM log").fetchone()
        assert total == distinct
        active = db.execute("SELECT COUNT(*) FROM alerts WHERE state = 'active'").fetchone()[0]
        assert active == len(present)
    finally:
        db.close()


def stored_alerts(data: Path) -> int:
    """Alerts in a node's store, read beside the node (read-only)."""
    db = sqlite3.connect(f"{(data / 'store.db').as_uri()}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])
    finally:
        db.close()


def test_killed_mid_catch_up_and_restarted_gets_everything_once(short_tmp: Path) -> None:
    a, b = init(short_tmp, "a"), init(short_tmp, "b")
    asyncio.run(preload(a, CATCH_UP))
    node_a, node_b = RunningNode(a), RunningNode(b)
    try:
        # A first, so that B's first pull (as soon as it adds A) is let in.
        peer_both_ways(b, a)
        deadline = time.monotonic() + 60
        while stored_alerts(b) == 0:
            assert time.monotonic() < deadline, "B never started its catch-up"
            time.sleep(KILL_POLL_S)
        node_b.kill()
        at_kill = stored_alerts(b)
        print(f"B killed with {at_kill} of {CATCH_UP} alerts stored")
        # The kill landed during the sync: some batches stored, not all.
        assert 0 < at_kill < CATCH_UP
        node_b = RunningNode(b)
        wait_for(lambda: stored_alerts(b) >= CATCH_UP, timeout=120)
        peer = alertnode_json("peer", "list", "--data", str(b))["peers"][0]
        assert peer["lag"] == 0 and peer["last_error"] is None
        assert set(alert_ids(b)) == set(alert_ids(a))
    finally:
        node_b.stop()
        node_a.stop()
    db = sqlite3.connect(b / "store.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        total, distinct = db.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM log").fetchone()
        assert total == distinct == CATCH_UP
        assert db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == CATCH_UP
    finally:
        db.close()
