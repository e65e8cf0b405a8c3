"""The CLI contract end to end: real processes, real SQLite files, real sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cli import RunningNode, alertnode, alertnode_json
from tests.node.test_canary import scan

pytestmark = pytest.mark.slow

PASSPHRASE = "correct horse battery staple"


def init(tmp: Path, name: str, *extra: str) -> Path:
    pw = tmp / "pw"
    pw.write_text(PASSPHRASE + "\n")
    data = tmp / name
    alertnode(
        "init",
        "--data",
        str(data),
        "--name",
        name,
        "--passphrase-file",
        str(pw),
        "--region",
        "GB",
        "--web",
        "127.0.0.1:0",
        "--fed",
        "127.0.0.1:0",
        *extra,
    )
    return data


def test_publish_check_retract_and_nothing_on_disk(short_tmp: Path) -> None:
    a = init(short_tmp, "a")
    b = init(short_tmp, "b")
    pw = str(short_tmp / "pw")
    node_a, node_b = (
        RunningNode(a, "--passphrase-file", pw),
        RunningNode(b, "--passphrase-file", pw),
    )
    try:
        ids = []
        for fmt, danger in (
            ("07700 900123", "2"),
            ("+44 7700 900123", "3"),
            ("0044-7700-900-123", "1"),
        ):
            ids.append(
                alertnode_json(
                    "alert",
                    "publish",
                    "--data",
                    str(a),
                    "--category",
                    "violence",
                    "--danger",
                    danger,
                    "--region",
                    "GB-LND",
                    "--phone",
                    fmt,
                    "--description",
                    "canary description: grey jacket, scar on left hand",
                )["id"]
            )
        assert len(set(ids)) == 3
        result = alertnode_json("check", "--data", str(a), "--phone", "+447700900123")
        assert (result["matches"], result["organisations"], result["max_danger"]) == (3, 1, 3)
        assert result["unknown_organisation_alerts"] == 0
        assert result["categories"] == ["violence"]
        assert "7700900123" not in str(result)
        people = alertnode("check", "--data", str(a), "--phone", "07700900123").stdout
        assert (
            "3 alert(s) from 1 organisation(s) this node knows; highest danger: dangerous" in people
        )
        # The other node has none of them (no federation between them).
        assert alertnode_json("check", "--data", str(b), "--phone", "07700900123")["matches"] == 0
        none = alertnode("check", "--data", str(b), "--phone", "07700900123").stdout
        assert "does not mean" in none

        assert {
            x["id"] for x in alertnode_json("alert", "list", "--data", str(a))["alerts"]
        } == set(ids)
        alertnode("alert", "retract", "--data", str(a), ids[1], "--reason", "mistaken")
        result = alertnode_json("check", "--data", str(a), "--phone", "07700 900123")
        assert (result["matches"], result["max_danger"]) == (2, 2)
        assert ids[1] not in {
            x["id"] for x in alertnode_json("alert", "list", "--data", str(a))["alerts"]
        }
    finally:
        log_a, _ = node_a.stop(), node_b.stop()
    assert "7700900123" not in log_a and "grey jacket" not in log_a
    assert scan(a) == [] and scan(b) == []


def test_errors_are_one_sentence_and_change_nothing(short_tmp: Path) -> None:
    a = init(short_tmp, "a")
    pw = str(short_tmp / "pw")

    def one_line_error(*args: str) -> str:
        result = alertnode(*args, check=False)
        assert result.returncode != 0
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        return result.stderr

    # Offline: not running, not a node, already initialised, wrong passphrase.
    assert "no node is running" in one_line_error("alert", "list", "--data", str(a))
    assert "not an alertnode data directory" in one_line_error(
        "run", "--data", str(short_tmp / "nothing")
    )
    assert "already holds a node" in one_line_error(
        "init", "--data", str(a), "--name", "x", "--no-passphrase", "--region", "GB"
    )
    wrong = short_tmp / "wrong"
    wrong.write_text("definitely not the passphrase\n")
    assert "does not unlock" in one_line_error(
        "run", "--data", str(a), "--passphrase-file", str(wrong)
    )
    node = RunningNode(a, "--passphrase-file", pw)
    try:
        assert "already running" in one_line_error("run", "--data", str(a), "--passphrase-file", pw)
        publish = ["alert", "publish", "--data", str(a), "--danger", "3", "--region", "GB"]
        assert "phone" in one_line_error(*publish, "--category", "violence", "--phone", "12")
        assert "invalid choice" in one_line_error(*publish, "--category", "unknown-thing")
        assert "region" in one_line_error(
            *publish, "--category", "violence", "--region", "nowhere!"
        )
        assert "hexadecimal" in one_line_error("alert", "retract", "--data", str(a), "nope")
        assert "--phone" in one_line_error("check", "--data", str(a))
        # Nothing was stored by any of the refused commands.
        assert alertnode_json("alert", "list", "--data", str(a))["alerts"] == []
        assert alertnode_json("status", "--data", str(a))["locked"] is False
    finally:
        node.stop()


def test_locked_node_refuses_until_unlocked(short_tmp: Path) -> None:
    a = init(short_tmp, "a")
    node = RunningNode(a)
    try:
        assert node.status["locked"] is True
        refused = alertnode("alert", "list", "--data", str(a), check=False)
        assert refused.returncode != 0 and "locked" in refused.stderr
        alertnode("unlock", "--data", str(a), "--passphrase-file", str(short_tmp / "pw"))
        assert alertnode_json("alert", "list", "--data", str(a))["alerts"] == []
    finally:
        node.stop()


def test_init_prints_card_and_admin_invite(short_tmp: Path) -> None:
    pw = short_tmp / "pw"
    pw.write_text(PASSPHRASE + "\n")
    out = alertnode_json(
        "init",
        "--data",
        str(short_tmp / "x"),
        "--name",
        "Org X",
        "--passphrase-file",
        str(pw),
        "--region",
        "GB",
    )
    assert out["card"].startswith("alertnode-card")
    assert len(out["invite"].replace("-", "")) >= 16
    assert len(bytes.fromhex(out["key"])) == 32
