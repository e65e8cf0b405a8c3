"""The duress passphrase (issue 12, item 12): typed wherever the admin passphrase is
asked (CLI unlock, the web unlock form, the wipe page, passphrase change) it wipes the
node, with the panic wipe's own steps, and answers exactly as a wrong passphrase:
same message, same status, the same slow work. The key store holds a verifier of the
same shape whether or not a duress passphrase is set."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
from aiohttp.test_utils import TestServer

from node.app import Node
from node.commands import client as control
from node.commands.cli import main as cli_main
from node.errors import NodeError, UsageError, WrongPassphrase
from node.keys import keystore
from node.web import web_app
from tests.conftest import NodeFactory
from tests.node.test_web_support import Site, StillClock, csrf_of
from tests.node.test_wipe import ADMIN, _assert_destroyed, _fill

DURESS = "duress words 7781 river"
WRONG = "not the passphrase at all"


def _doc(data: Path) -> dict[str, Any]:
    doc = msgpack.unpackb((data / keystore.KEYSTORE_FILE).read_bytes(), raw=False)
    assert isinstance(doc, dict)
    return doc


def _shape(value: object) -> object:
    """A value's shape: types and lengths, never its bytes."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, bytes | str | list):
        return (type(value).__name__, len(value))
    return type(value).__name__


async def _cli(*argv: str) -> tuple[int, str, float]:
    """Run ``alertnode ARGV`` (in a thread, as its own process would) -> exit, stderr."""
    import contextlib
    import io

    err = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return cli_main(list(argv))

    started = time.monotonic()
    code = await asyncio.to_thread(run)
    return code, err.getvalue(), time.monotonic() - started


def _file(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text + "\n", encoding="utf-8")
    path.chmod(0o600)
    return str(path)


async def _locked_node_with_duress(make_node: NodeFactory, short_tmp: Path) -> Node:
    node = await make_node("A", passphrase=ADMIN)
    await _fill(node)
    code, err, _ = await _cli(
        "passphrase",
        "duress",
        "--data",
        str(node.data_dir),
        "--duress-file",
        _file(short_tmp, "duress", DURESS),
    )
    assert code == 0, err
    await asyncio.sleep(0.01)  # let its jobs start before it stops
    locked = await make_node.restart(node)  # type: ignore[attr-defined]
    assert locked.locked
    return locked  # type: ignore[no-any-return]


# --- the verifier ---------------------------------------------------------------------


def test_a_node_without_duress_holds_a_verifier_of_the_same_shape(tmp_path: Path) -> None:
    plain, duress = tmp_path / "plain", tmp_path / "duress"
    plain.mkdir()
    duress.mkdir()
    keystore.create(plain, ADMIN)
    keystore.create(duress, ADMIN)
    before = _doc(duress)["duress"]
    keystore.set_duress(duress, DURESS)
    after = _doc(duress)["duress"]
    assert _shape(_doc(plain)) == _shape(_doc(duress))
    assert _shape(_doc(plain)["duress"]) == _shape(after) == _shape(before)
    assert set(after) == {"salt", "opslimit", "memlimit", "check"}
    assert after["check"] != before["check"] and after["salt"] != before["salt"]
    assert (plain / "keys.bin").stat().st_size == (duress / "keys.bin").stat().st_size
    assert DURESS.encode() not in (duress / "keys.bin").read_bytes()
    # Clearing it leaves a fresh decoy of the same shape, which the old one no longer opens.
    keystore.set_duress(duress, None)
    assert _shape(_doc(duress)["duress"]) == _shape(after)
    with pytest.raises(WrongPassphrase) as caught:
        keystore.unlock(duress, DURESS)
    assert type(caught.value) is WrongPassphrase


def test_same_slow_work_and_answer_for_wrong_and_duress(tmp_path: Path) -> None:
    keystore.create(tmp_path, ADMIN)
    keystore.set_duress(tmp_path, DURESS)
    work: list[tuple[int, int]] = []

    def counting(passphrase: str, salt: bytes, ops: int, mem: int) -> bytes:
        work.append((ops, mem))
        return keystore._derive(passphrase, salt, ops, mem)

    answers = {}
    for name, guess in (("wrong", WRONG), ("duress", DURESS)):
        work.clear()
        with pytest.raises(WrongPassphrase) as caught:
            keystore.unlock(tmp_path, guess, counting)
        answers[name] = (caught.value.message, caught.value.status, list(work))
    assert answers["wrong"] == answers["duress"]
    assert len(answers["wrong"][2]) == 2
    # A key store from before duress, and a node already wiped by it: the same work.
    doc = _doc(tmp_path)
    del doc["duress"]
    (tmp_path / keystore.KEYSTORE_FILE).write_bytes(msgpack.packb(doc, use_bin_type=True))
    work.clear()
    with pytest.raises(WrongPassphrase):
        keystore.unlock(tmp_path, WRONG, counting)
    assert work == answers["wrong"][2]
    work.clear()
    keystore.spend_like_a_wrong_guess(WRONG, counting)
    assert work == answers["wrong"][2]
    # The right passphrase is one derivation and opens.
    work.clear()
    keystore.unlock(tmp_path, ADMIN, counting)
    assert len(work) == 1


def test_duress_must_differ_from_the_admin_passphrase_and_needs_one(tmp_path: Path) -> None:
    keystore.create(tmp_path, ADMIN)
    with pytest.raises(UsageError, match="differ"):
        keystore.set_duress(tmp_path, ADMIN)
    with pytest.raises(UsageError, match="at least"):
        keystore.set_duress(tmp_path, "short")
    keystore.set_duress(tmp_path, DURESS)
    with pytest.raises(UsageError, match="differ"):
        keystore.rewrap(tmp_path, ADMIN, DURESS)
    keyfile = tmp_path / "kf"
    keyfile.mkdir()
    keystore.create(keyfile, None)
    with pytest.raises(UsageError, match="no duress passphrase"):
        keystore.set_duress(keyfile, DURESS)
    # An older key store gets its decoy the next time keys.bin is written.
    doc = _doc(tmp_path)
    del doc["duress"]
    (tmp_path / keystore.KEYSTORE_FILE).write_bytes(msgpack.packb(doc, use_bin_type=True))
    opened = keystore.unlock(tmp_path, ADMIN)
    keystore.save_network_keys(tmp_path, opened.data_key, opened.network)
    assert _shape(_doc(tmp_path)["duress"]) == _shape(_doc(keyfile)["duress"])


# --- where the admin passphrase is asked ------------------------------------------------


async def test_cli_unlock_with_the_duress_passphrase_wipes_and_says_wrong_passphrase(
    make_node: NodeFactory, short_tmp: Path
) -> None:
    locked = await _locked_node_with_duress(make_node, short_tmp)
    data = str(locked.data_dir)
    wrong = await _cli("unlock", "--data", data, "--passphrase-file", _file(short_tmp, "w", WRONG))
    assert (locked.data_dir / "keys.bin").exists()
    duress = await _cli(
        "unlock", "--data", data, "--passphrase-file", _file(short_tmp, "d", DURESS)
    )
    print(f"CLI unlock: wrong passphrase {wrong[2]:.3f} s, duress passphrase {duress[2]:.3f} s")
    assert duress[:2] == wrong[:2] == (1, "alertnode: that passphrase does not unlock this node\n")
    assert not (locked.data_dir / "keys.bin").exists()
    # The node is still up, locked, and every passphrase is now wrong, the admin's too.
    assert not locked.stopped.is_set() and locked.locked
    assert (await control.call(locked.data_dir, "status", {}))["locked"] is True
    admin = await _cli("unlock", "--data", data, "--passphrase-file", _file(short_tmp, "a", ADMIN))
    assert admin[:2] == wrong[:2]
    await locked.stop()
    _assert_destroyed(locked.data_dir)


async def test_web_unlock_with_the_duress_passphrase_wipes_and_says_wrong_passphrase(
    make_node: NodeFactory, short_tmp: Path
) -> None:
    locked = await _locked_node_with_duress(make_node, short_tmp)
    server = TestServer(web_app(locked))
    await server.start_server()
    site = Site(locked, server)
    try:
        visitor = await site.visitor()
        _, html, _ = await visitor.get("/")
        token = csrf_of(html)

        async def unlock(passphrase: str) -> tuple[int, str]:
            status, html, _ = await visitor.post("/unlock", {"passphrase": passphrase}, csrf=token)
            return status, html

        wrong = await unlock(WRONG)
        assert wrong[0] == 401 and "Wrong passphrase." in wrong[1]
        assert (locked.data_dir / "keys.bin").exists()
        assert await unlock(DURESS) == wrong
        assert not (locked.data_dir / "keys.bin").exists()
        assert await unlock(ADMIN) == wrong
        status, html, _ = await visitor.get("/check")
        assert status == 503 and "This service is locked" in html
    finally:
        await site.close()
    await locked.stop()
    _assert_destroyed(locked.data_dir)


async def test_wipe_page_with_the_duress_passphrase_wipes_and_says_not_right(
    make_node: NodeFactory,
) -> None:
    node = await make_node("A", passphrase=ADMIN, clock=StillClock(int(time.time())))
    await _fill(node)
    await node.set_duress_passphrase(DURESS)
    server = TestServer(web_app(node))
    await server.start_server()
    site = Site(node, server)
    try:
        admin = await site.member("root", "admin")
        token = await admin.token("/admin/wipe")

        async def wipe(passphrase: str) -> tuple[int, str]:
            status, html, _ = await admin.post(
                "/admin/wipe", {"passphrase": passphrase, "confirm": "yes"}, csrf=token
            )
            return status, re.sub(r'name="csrf" value="[^"]+"|data-csrf="[^"]+"', "", html)

        wrong = await wipe(WRONG)
        assert wrong[0] == 400 and "not right" in wrong[1]
        assert (node.data_dir / "keys.bin").exists() and not node.locked
        assert await wipe(DURESS) == wrong
        assert node.locked and not (node.data_dir / "keys.bin").exists()
        assert not node.stopped.is_set()
        status, html, _ = await admin.get("/admin/wipe")
        assert status == 503 and "This service is locked" in html
    finally:
        await site.close()
    await node.stop()
    _assert_destroyed(node.data_dir)


async def test_passphrase_change_with_the_duress_passphrase_wipes(
    make_node: NodeFactory,
) -> None:
    node = await make_node("A", passphrase=ADMIN)
    await _fill(node)
    await control.call(node.data_dir, "passphrase.duress", {"duress": DURESS})
    answers = []
    for old in (WRONG, DURESS):
        with pytest.raises(NodeError) as caught:
            await control.call(
                node.data_dir, "passphrase.change", {"old": old, "new": "another one 12345"}
            )
        answers.append(caught.value.message)
    assert answers[0] == answers[1] == "that passphrase does not unlock this node"
    assert node.locked and not node.stopped.is_set()
    await node.stop()
    _assert_destroyed(node.data_dir)


async def test_duress_command_needs_an_unlocked_passphrase_node(
    make_node: NodeFactory, short_tmp: Path
) -> None:
    keyfile = await make_node("K")
    with pytest.raises(NodeError, match="no duress passphrase"):
        await control.call(keyfile.data_dir, "passphrase.duress", {"duress": DURESS})
    with pytest.raises(NodeError, match="either"):
        await control.call(keyfile.data_dir, "passphrase.duress", {})
    node = await make_node("A", passphrase=ADMIN)
    assert await control.call(node.data_dir, "passphrase.duress", {"duress": DURESS}) == {
        "duress": True
    }
    assert await control.call(node.data_dir, "passphrase.duress", {"clear": True}) == {
        "duress": False
    }
    # Cleared: the old duress passphrase is only a wrong one now, and wipes nothing.
    await asyncio.sleep(0.01)
    locked = await make_node.restart(node)  # type: ignore[attr-defined]
    with pytest.raises(NodeError, match="does not unlock"):
        await control.call(locked.data_dir, "unlock", {"passphrase": DURESS})
    assert (locked.data_dir / "keys.bin").exists()
    await control.call(locked.data_dir, "unlock", {"passphrase": ADMIN})
    assert not locked.locked
