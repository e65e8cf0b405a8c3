"""SIGKILL a node at random points during ingest, publishing and sync, 50 times:
nothing acknowledged is lost, nothing is duplicated, the database stays sound and
sync resumes from the saved cursor."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from node import keystore
from node.store import Store
from protocol.alert import AlertBody, coarsen_hour, sign_alert
from tests.e2e.cli import COMMAND, RunningNode, alertnode_json
from tests.e2e.test_federation_cli import init, peer_both_ways, wait_for

pytestmark = pytest.mark.slow

KILLS = 50
PRELOADED = 400


async def preload(data: Path, count: int) -> None:
    """Sign ``count`` alerts with the node's own key straight into its store (offline)."""
    unlocked = keystore.unlock(data, None)
    store = await Store.open(data, unlocked.data_key)
    try:
        now = int(time.time())
        origin = bytes(unlocked.signing_key.verify_key)
        for i in range(count):
            body = AlertBody(
                origin=origin, created=coarsen_hour(now), expires=coarsen_hour(now) + 30 * 86400,
                incident="2026-11-01", region="GB", categories=("other",), danger=1,
                indicators=(), description=f"preloaded {i}", lang="en", hops=2, tlp="GREEN",
            )  # fmt: skip
            alert = sign_alert(body, unlocked.signing_key, now)
            await store.alerts.put_alert(alert, hops=0, received_from=None, now=now)
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
