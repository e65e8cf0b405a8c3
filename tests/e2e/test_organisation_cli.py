"""Issue 16 through the real command line, on two real nodes: settings list/set, an
area warning refused until enabled then published, received, listed apart and
retracted; the totals for funders; a move announced and followed by the peer."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.errors import UsageError
from node.settings import validate
from tests.e2e.cli import RunningNode, alertnode, alertnode_json, start_all
from tests.e2e.test_federation_cli import init, peer_both_ways, wait_for
from tests.ports import free_port

pytestmark = pytest.mark.slow


def warnings_at(data: Path) -> list[str]:
    items = alertnode_json("alert", "list", "--data", str(data))["alerts"]
    return [a["id"] for a in items if a.get("warning")]


def test_settings_warnings_totals_and_move_through_the_cli(short_tmp: Path) -> None:
    a, b = init(short_tmp, "a"), init(short_tmp, "b")
    nodes = start_all(a, b)
    try:
        peer_both_ways(a, b)
        listed = alertnode_json("settings", "list", "--data", str(a))["settings"]
        assert listed["area_warnings"] is False and listed["alert_hops"] == 2
        bad = alertnode("settings", "set", "--data", str(a), "alert_hops", "9", check=False)
        with pytest.raises(UsageError) as page:  # the admin page's own sentence
            validate("alert_hops", "9")
        assert bad.returncode != 0 and page.value.message in bad.stderr
        assert "Traceback" not in bad.stderr

        warning = (
            "warning", "publish", "--data", str(a), "--kind", "police", "--danger", "2",
            "--region", "GB", "--description", "Checks at the station tonight.",
        )  # fmt: skip
        refused = alertnode(*warning, check=False)
        assert refused.returncode != 0 and "area_warnings" in refused.stderr
        for node in (a, b):
            out = alertnode_json("settings", "set", "--data", str(node), "area_warnings", "true")
            assert out == {"name": "area_warnings", "value": True, "changed": True}
        warning_id = alertnode_json(*warning)["id"]
        wait_for(lambda: warnings_at(b) == [warning_id])
        alertnode("alert", "retract", "--data", str(a), warning_id)
        wait_for(lambda: warnings_at(b) == [])

        totals = alertnode_json("totals", "--data", str(a))
        [period] = totals["periods"]
        assert period["members"] == "fewer than 5"
        assert period["warnings_published"] == "fewer than 5"
        text = alertnode("totals", "--data", str(a)).stdout
        assert period["period"] in text and "fewer than 5" in text

        # A moves: the same port under another name stands in for a new host.
        card = alertnode_json("card", "--data", str(a))
        port = card["url"].rsplit(":", 1)[1]
        moved = alertnode_json(
            "move", "--data", str(a), "--public-url", f"https://localhost:{port}"
        )
        assert moved["told"] == ["Org b"]
        assert moved["missed"] == [] and moved["restart"] is False
        after = alertnode_json(
            "alert", "publish", "--data", str(a), "--category", "robbery", "--danger", "2",
            "--region", "GB", "--phone", "07700 900555",
        )["id"]  # fmt: skip
        wait_for(
            lambda: (
                after
                in [x["id"] for x in alertnode_json("alert", "list", "--data", str(b))["alerts"]]
            )
        )
        assert alertnode_json("card", "--data", str(a))["url"] == f"https://localhost:{port}"
        [peer_a] = alertnode_json("peer", "list", "--data", str(b))["peers"]
        assert peer_a["urls"] == [f"https://localhost:{port}"]  # followed, not re-paired
    finally:
        for node in nodes:
            node.stop()


def test_a_node_restored_on_a_new_host_moves_and_its_peer_follows(short_tmp: Path) -> None:
    """Issue 16 item 4 as an admin lives it: the host drops node A; its backup is
    restored into a new data directory, started, and `move` announces a new federation
    address; after a restart there, B syncs from the new address without pairing
    again, and nothing A published before is lost."""
    pw = short_tmp / "pw"
    pw.write_text("a passphrase for the restored node\n")
    a = short_tmp / "a"
    alertnode(
        "init", "--data", str(a), "--name", "Org a", "--passphrase-file", str(pw),
        "--region", "GB", "--web", f"127.0.0.1:{free_port()}", "--fed", f"127.0.0.1:{free_port()}",
    )  # fmt: skip
    b = init(short_tmp, "b")
    node_a, node_b = RunningNode(a, "--passphrase-file", str(pw)), RunningNode(b)
    nodes = [node_a, node_b]
    try:
        peer_both_ways(a, b)
        before = publish(a, "07700 900601")
        wait_for(lambda: before in listed(b))
        backup = short_tmp / "a.backup"
        alertnode_json("backup", "create", "--data", str(a), "--out", str(backup))
        node_a.stop()  # the old host is gone

        new_home = short_tmp / "a-new"
        restored = alertnode_json(
            "backup", "restore", "--data", str(new_home), "--in", str(backup),
            "--passphrase-file", str(pw),
        )  # fmt: skip
        assert restored["alerts"] >= 1
        node_a = RunningNode(new_home, "--passphrase-file", str(pw))
        nodes.append(node_a)
        port = free_port()
        url = f"https://localhost:{port}"
        moved = alertnode_json(
            "move", "--data", str(new_home), "--public-url", url, "--fed", f"127.0.0.1:{port}"
        )
        assert moved["told"] == ["Org b"] and moved["missed"] == []
        assert moved["restart"] is True  # the new listen address takes effect on a start
        node_a.stop()
        node_a = RunningNode(new_home, "--passphrase-file", str(pw))
        nodes.append(node_a)
        assert alertnode_json("card", "--data", str(new_home))["url"] == url

        after = publish(new_home, "07700 900602")
        wait_for(lambda: after in listed(b))
        [peer_a] = alertnode_json("peer", "list", "--data", str(b))["peers"]
        assert peer_a["urls"] == [url]  # followed, not paired again
        assert before in listed(new_home) and before in listed(b)
    finally:
        for node in nodes:
            node.stop()


def listed(data: Path) -> list[str]:
    return [x["id"] for x in alertnode_json("alert", "list", "--data", str(data))["alerts"]]


def publish(data: Path, phone: str) -> str:
    return str(
        alertnode_json(
            "alert", "publish", "--data", str(data), "--category", "robbery", "--danger", "2",
            "--region", "GB", "--phone", phone,
        )["id"]
    )  # fmt: skip
