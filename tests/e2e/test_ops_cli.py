"""Running a node for real, end to end: locked start, unlock, passphrase change,
backup and restore, panic wipe. Real processes, real files, real sockets."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from node.commands import client as control
from node.errors import NodeError
from tests.e2e.cli import RunningNode, alertnode, alertnode_json
from tests.node.test_canary import DESCRIPTION, scan
from tests.ports import free_port

pytestmark = pytest.mark.slow

PASSPHRASE = "ops passphrase 1234"
NEW_PASSPHRASE = "a new ops passphrase 5678"
# Commands that must answer while locked: how an admin sees and unlocks (or wipes) it.
ALLOWED_WHILE_LOCKED = {"status", "unlock", "stop", "wipe"}


def files(tmp: Path) -> tuple[str, str]:
    old, new = tmp / "pw", tmp / "pw2"
    old.write_text(PASSPHRASE + "\n")
    new.write_text(NEW_PASSPHRASE + "\n")
    return str(old), str(new)


def init(tmp: Path, name: str, fed: str = "127.0.0.1:0") -> Path:
    old, _ = files(tmp)
    data = tmp / name
    alertnode(
        "init",
        "--data",
        str(data),
        "--name",
        name,
        "--passphrase-file",
        old,
        "--region",
        "GB",
        "--web",
        "127.0.0.1:0",
        "--fed",
        fed,
    )
    return data


def publish(data: Path, description: str = "ops test alert") -> str:
    return str(
        alertnode_json(
            "alert",
            "publish",
            "--data",
            str(data),
            "--category",
            "robbery",
            "--danger",
            "2",
            "--region",
            "GB",
            "--description",
            description,
        )["id"]
    )


def web_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (loopback)
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_a_locked_node_refuses_everything_until_unlocked(short_tmp: Path) -> None:
    port = free_port()
    data = init(short_tmp, "a", f"127.0.0.1:{port}")
    old, _ = files(short_tmp)
    node = RunningNode(data)
    try:
        assert node.status["locked"] is True
        assert "counts" not in node.status
        # Every control command except the few above answers "locked".
        from node.commands.control import COMMANDS

        async def ask_all() -> dict[str, str]:
            answers = {}
            for name in sorted(set(COMMANDS) - ALLOWED_WHILE_LOCKED):
                try:
                    # confirm: past any "--yes" check, to the lock itself
                    await control.call(data, name, {"confirm": True})
                    answers[name] = "answered"
                except NodeError as exc:
                    answers[name] = exc.message
            return answers

        answers = asyncio.run(ask_all())
        assert len(answers) >= 15
        assert {n: a for n, a in answers.items() if "locked" not in a} == {}
        refused = alertnode("alert", "list", "--data", str(data), check=False)
        assert refused.returncode != 0 and "locked" in refused.stderr
        assert "Traceback" not in refused.stderr
        # The web app answers 503 (a page saying so); the federation port is closed,
        # because its TLS key is sealed under the data key.
        assert web_status(node.status["web"]) == 503
        assert not listening(port)
        wrong = short_tmp / "wrong"
        wrong.write_text("not the passphrase at all\n")
        bad = alertnode("unlock", "--data", str(data), "--passphrase-file", str(wrong), check=False)
        assert bad.returncode != 0 and "does not unlock" in bad.stderr
        assert alertnode_json("status", "--data", str(data))["locked"] is True
        assert alertnode("unlock", "--data", str(data), "--passphrase-file", old).stdout
        assert alertnode_json("alert", "list", "--data", str(data))["alerts"] == []
        assert web_status(node.status["web"]) == 200
        assert listening(port)
    finally:
        node.stop()


def test_passphrase_change_rewraps_without_touching_data(short_tmp: Path) -> None:
    data = init(short_tmp, "a")
    old, new = files(short_tmp)
    node = RunningNode(data, "--passphrase-file", old)
    try:
        alert_id = publish(data)
        alertnode("status", "--data", str(data))
        digests = {p: hashlib.sha256((data / p).read_bytes()).hexdigest() for p in ("store.db",)}
        keys_before = (data / "keys.bin").read_bytes()
        wrong = alertnode(
            "passphrase", "change", "--data", str(data), "--old-file", new, "--new-file", new,
            check=False,
        )  # fmt: skip
        assert wrong.returncode != 0 and "does not unlock" in wrong.stderr
        missing = alertnode(
            "passphrase", "change", "--data", str(data), "--new-file", new, check=False
        )
        assert missing.returncode == 2 and "current passphrase" in missing.stderr
        changed = alertnode(
            "passphrase", "change", "--data", str(data), "--old-file", old, "--new-file", new
        )
        assert changed.stdout.strip() == "Passphrase changed."
        assert (data / "keys.bin").read_bytes() != keys_before
        assert {p: hashlib.sha256((data / p).read_bytes()).hexdigest() for p in digests} == digests
        # The node keeps running, unlocked.
        assert alertnode_json("alert", "list", "--data", str(data))["alerts"][0]["id"] == alert_id
    finally:
        node.stop()
    refused = alertnode("run", "--data", str(data), "--passphrase-file", old, check=False)
    assert refused.returncode != 0 and "does not unlock" in refused.stderr
    node = RunningNode(data, "--passphrase-file", new)
    try:
        assert node.status["locked"] is False
        assert alertnode_json("alert", "list", "--data", str(data))["alerts"][0]["id"] == alert_id
    finally:
        node.stop()


def test_backup_and_restore_through_the_cli(short_tmp: Path) -> None:
    data = init(short_tmp, "a")
    old, _ = files(short_tmp)
    out = short_tmp / "a.backup"
    node = RunningNode(data, "--passphrase-file", old)
    try:
        ids = sorted(publish(data, f"backup alert {n}") for n in range(3))
        made = alertnode_json("backup", "create", "--data", str(data), "--out", str(out))
        print(f"CLI backup: {made['bytes']} bytes in {made['seconds']} s")
        assert made["alerts"] == 3
        again = alertnode("backup", "create", "--data", str(data), "--out", str(out), check=False)
        assert again.returncode != 0 and "already exists" in again.stderr
    finally:
        node.stop()
    truncated = short_tmp / "t.backup"
    truncated.write_bytes(out.read_bytes()[:-40])
    target = short_tmp / "r"
    bad = alertnode(
        "backup", "restore", "--data", str(target), "--in", str(truncated),
        "--passphrase-file", old, check=False,
    )  # fmt: skip
    assert bad.returncode != 0 and not target.exists()
    assert bad.stderr.count("\n") == 1 and "nothing was restored" in bad.stderr
    restored = alertnode_json(
        "backup", "restore", "--data", str(target), "--in", str(out), "--passphrase-file", old
    )
    assert restored["alerts"] == 3
    node = RunningNode(target, "--passphrase-file", old)
    try:
        alerts = alertnode_json("alert", "list", "--data", str(target))["alerts"]
        assert sorted(a["id"] for a in alerts) == ids
    finally:
        node.stop()


def test_wipe_a_running_node_and_a_stopped_one(short_tmp: Path) -> None:
    old, _ = files(short_tmp)
    running = init(short_tmp, "a")
    stopped = init(short_tmp, "b")
    node = RunningNode(running, "--passphrase-file", old)
    try:
        publish(running, DESCRIPTION)
        alertnode("invite", "create", "--data", str(running))
        refused = alertnode("wipe", "--data", str(running), check=False)
        assert refused.returncode == 2 and "--yes" in refused.stderr
        assert (running / "keys.bin").exists() and node.proc.poll() is None
        started = time.monotonic()
        result = json.loads(alertnode("wipe", "--data", str(running), "--yes", "--json").stdout)
        elapsed = time.monotonic() - started
        print(f"wipe of a running node: {result['seconds']} s in the command, {elapsed:.3f} s "
              "including the interpreter's start")  # fmt: skip
        assert result["running"] is True
        assert node.proc.wait(timeout=10) == 0
    finally:
        node.stop()
    other = RunningNode(stopped, "--passphrase-file", old)
    publish(stopped, DESCRIPTION)
    other.stop()
    result = json.loads(alertnode("wipe", "--data", str(stopped), "--yes", "--json").stdout)
    print(f"wipe of a stopped node: {result['seconds']} s")
    assert result["running"] is False
    for data in (running, stopped):
        assert [p.name for p in data.iterdir()] == []
        assert scan(data) == []
        gone = alertnode("run", "--data", str(data), check=False)
        assert gone.returncode != 0 and "Traceback" not in gone.stderr


def test_duress_passphrase_at_cli_unlock_wipes_and_answers_as_a_wrong_one(
    short_tmp: Path,
) -> None:
    old, _ = files(short_tmp)
    duress, wrong = short_tmp / "duress", short_tmp / "wrong"
    duress.write_text("duress words 7781 river\n")
    wrong.write_text("not the passphrase at all\n")
    data = init(short_tmp, "a")
    node = RunningNode(data, "--passphrase-file", old)
    try:
        publish(data, DESCRIPTION)
        answer = alertnode_json("passphrase", "duress", "--data", str(data), "--duress-file",
                                str(duress))  # fmt: skip
        assert answer == {"duress": True}
    finally:
        node.stop()
    node = RunningNode(data)  # locked
    try:
        started = time.monotonic()
        bad = alertnode("unlock", "--data", str(data), "--passphrase-file", str(wrong), check=False)
        wrong_s = time.monotonic() - started
        assert (data / "keys.bin").exists()
        started = time.monotonic()
        forced = alertnode(
            "unlock", "--data", str(data), "--passphrase-file", str(duress), check=False
        )
        duress_s = time.monotonic() - started
        print(f"alertnode unlock: wrong passphrase {wrong_s:.3f} s, duress {duress_s:.3f} s")
        assert (forced.returncode, forced.stdout, forced.stderr) == (
            bad.returncode,
            bad.stdout,
            bad.stderr,
        )
        assert bad.returncode == 1 and "does not unlock" in bad.stderr
        assert not (data / "keys.bin").exists() and scan(data) == []
        # Still running, still locked; the admin passphrase is now as wrong as any.
        assert node.proc.poll() is None
        assert alertnode_json("status", "--data", str(data))["locked"] is True
        admin = alertnode("unlock", "--data", str(data), "--passphrase-file", old, check=False)
        assert (admin.returncode, admin.stderr) == (bad.returncode, bad.stderr)
    finally:
        log = node.stop()
    assert "wipe" not in log.lower() and "duress" not in log.lower()
    assert sorted(p.name for p in data.iterdir()) in ([], ["lock"])
    assert scan(data) == []
