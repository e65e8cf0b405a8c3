"""Three nodes driven only through the CLI contract: cards, peers, publish, check,
retract, suspend, remove, and a node killed while idle that catches up on restart
(test_crash.py kills one in the middle of a catch-up)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.cli import RunningNode, alertnode, alertnode_json, start_all
from tests.ports import free_port

pytestmark = pytest.mark.slow


def init(tmp: Path, name: str) -> Path:
    data = tmp / name
    alertnode(
        "init", "--data", str(data), "--name", f"Org {name}", "--no-passphrase",
        "--region", "GB", "--web", f"127.0.0.1:{free_port()}", "--fed", f"127.0.0.1:{free_port()}",
    )  # fmt: skip
    return data


def wait_for(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.2)


def matches(data: Path, phone: str) -> int:
    return int(alertnode_json("check", "--data", str(data), "--phone", phone)["matches"])


def peer_both_ways(x: Path, y: Path) -> None:
    card_x = alertnode_json("card", "--data", str(x))["card"]
    card_y = alertnode_json("card", "--data", str(y))["card"]
    out_y = alertnode_json("peer", "add", "--data", str(y), card_x)
    out_x = alertnode_json("peer", "add", "--data", str(x), card_y)
    assert out_x["sas"] == out_y["sas"]  # both admins read the same digits


def test_three_nodes_through_the_cli(short_tmp: Path) -> None:
    a, b, c = (init(short_tmp, n) for n in "abc")
    nodes = dict(zip("abc", start_all(a, b, c), strict=True))
    try:
        peer_both_ways(a, b)
        peer_both_ways(b, c)
        peers_b = alertnode_json("peer", "list", "--data", str(b))["peers"]
        assert {p["name"] for p in peers_b} == {"Org a", "Org c"}
        far = alertnode_json(
            "alert", "publish", "--data", str(a), "--category", "robbery", "--danger", "2",
            "--region", "GB", "--phone", "07700 900111", "--hops", "2",
        )["id"]  # fmt: skip
        alertnode_json(
            "alert", "publish", "--data", str(a), "--category", "violence", "--danger", "3",
            "--region", "GB", "--phone", "07700 900222", "--hops", "1",
        )  # fmt: skip
        wait_for(lambda: matches(c, "+447700900111") == 1)
        wait_for(lambda: matches(b, "+447700900222") == 1)
        alertnode("sync", "--data", str(c))
        assert matches(c, "+447700900222") == 0  # hops 1 stops at B
        check = alertnode_json("check", "--data", str(c), "--phone", "07700900111")
        # C cannot name A (not its peer): the alert counts apart, not as an organisation.
        assert (check["organisations"], check["unknown_organisation_alerts"]) == (0, 1)
        assert check["max_danger"] == 2

        # Retraction at A removes it at B and C.
        alertnode("alert", "retract", "--data", str(a), far)
        wait_for(lambda: matches(c, "+447700900111") == 0 and matches(b, "+447700900111") == 0)

        # B suspends A: A's new alerts no longer reach B; resuming lets them through.
        alertnode("peer", "set", "--data", str(b), "Org a", "--suspend")
        alertnode_json(
            "alert", "publish", "--data", str(a), "--category", "stalking", "--danger", "2",
            "--region", "GB", "--phone", "07700 900333",
        )  # fmt: skip
        alertnode("sync", "--data", str(b))
        assert matches(b, "+447700900333") == 0
        alertnode("peer", "set", "--data", str(b), "Org a", "--resume")
        wait_for(lambda: matches(b, "+447700900333") == 1)

        # B is killed (idle), misses 20 alerts, and catches up from its cursor on restart.
        nodes["b"].kill()
        for i in range(20):
            alertnode(
                "alert", "publish", "--data", str(a), "--category", "other", "--danger", "1",
                "--region", "GB", "--phone", f"07700 9004{i:02d}",
            )  # fmt: skip
        nodes["b"] = RunningNode(b)
        wait_for(lambda: matches(b, "+447700900419") == 1)
        assert matches(b, "+447700900400") == 1
        status = alertnode_json("peer", "list", "--data", str(b))
        by_name = {p["name"]: p for p in status["peers"]}
        assert by_name["Org a"]["items_received"] >= 22
        assert by_name["Org a"]["last_sync"] is not None

        # B removes A with --purge: everything A originated is gone from B.
        alertnode("peer", "remove", "--data", str(b), "Org a", "--purge")
        assert matches(b, "+447700900419") == 0
        assert {p["name"] for p in alertnode_json("peer", "list", "--data", str(b))["peers"]} == {
            "Org c"
        }
    finally:
        for node in nodes.values():
            node.stop()


def test_peer_commands_refuse_bad_input(short_tmp: Path) -> None:
    a = init(short_tmp, "a")
    node = RunningNode(a)
    try:
        bad = alertnode("peer", "add", "--data", str(a), "alertnode-card:1:AAAA", check=False)
        assert bad.returncode != 0 and "card" in bad.stderr and bad.stderr.count("\n") == 1
        own = alertnode_json("card", "--data", str(a))["card"]
        bad = alertnode("peer", "add", "--data", str(a), own, check=False)
        assert bad.returncode != 0 and "own card" in bad.stderr
        bad = alertnode("peer", "set", "--data", str(a), "nobody", "--suspend", check=False)
        assert bad.returncode != 0 and "no peer" in bad.stderr
        assert alertnode_json("peer", "list", "--data", str(a))["peers"] == []
    finally:
        node.stop()
