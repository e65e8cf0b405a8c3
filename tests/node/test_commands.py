"""The command table: every command documented and routed, answers shaped as declared,
and booleans strictly boolean on the control socket."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from node.app import Node
from node.commands.cli import GROUPS, TABLE, main
from node.commands.control import ROUTES
from node.commands.table import Indicators
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually, has_alert, pair


def _help(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*words, "--help"])
    assert exit_.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def test_every_command_has_help_and_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    top = _help(capsys)
    for command in TABLE:
        assert command.help.strip(), command.name
        if not command.cli:
            continue
        first = command.words[0]
        assert re.search(rf"\b{re.escape(first)}\b", top), first
        if len(command.words) == 1:
            assert command.help in top, command.name
        else:
            assert GROUPS[first] in top, first
            assert command.help in _help(capsys, first), command.name
        own = _help(capsys, *command.words)
        assert "--data DIR" in own, command.name
        for arg in command.args:
            if not arg.cli or arg.positional:
                continue
            if isinstance(arg.kind, Indicators):
                flags = tuple(f"--{kind}" for kind in arg.kind.kinds)
            else:
                flags = arg.one_of or (arg.cli_flag,)
            assert all(flag in own for flag in flags), (command.name, arg.name)


def test_the_table_names_are_the_socket_routes() -> None:
    names = [c.name for c in TABLE]
    assert len(names) == len(set(names))
    assert set(ROUTES) == {c.name for c in TABLE if c.handler is not None}
    # The offline commands of the contract work without a node.
    offline = {" ".join(c.words) for c in TABLE if c.offline}
    assert {"init", "run", "wipe", "backup restore", "demo"} <= offline


class Socket:
    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    async def call(self, name: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        async with self.http.post(f"http://alertnode/v1/{name}", json=args) as resp:
            return resp.status, json.loads(await resp.text())


@pytest.fixture
async def nodes(make_node: NodeFactory) -> AsyncIterator[tuple[Node, Node, Socket]]:
    a = await make_node("A")
    b = await make_node("B")
    await pair(a, b)
    connector = aiohttp.UnixConnector(path=str(a.data_dir / "control.sock"))
    async with aiohttp.ClientSession(connector=connector) as http:
        yield a, b, Socket(http)


async def test_purge_false_as_a_string_is_refused_and_purges_nothing(
    nodes: tuple[Node, Node, Socket],
) -> None:
    a, b, socket = nodes
    alert_id = await b.unlocked().alerts.publish(draft(1))
    await a.unlocked().trust.sync_now()
    await eventually(lambda: has_alert(a, alert_id))
    for wrong in ("false", "true", "", 0, 1, [True]):
        status, answer = await socket.call("peer.remove", {"peer": "B", "purge": wrong})
        assert status == 400 and "purge" in answer["error"], (wrong, answer)
    assert await has_alert(a, alert_id)
    assert [p.name for p in await a.unlocked().store.peers.list()] == ["B"]
    # A real false removes the peer and keeps its alerts; the control is that it can.
    status, answer = await socket.call("peer.remove", {"peer": "B", "purge": False})
    assert status == 200 and answer["purged"] == 0
    assert await has_alert(a, alert_id)


# Commands that are safe to run here with their examples, and what they need.
SAFE_WITH_EXAMPLES = (
    "status",
    "alert.list",
    "check",
    "invite.create",
    "card",
    "peer.list",
    "sync",
    "pair.status",
    "peer.block",
    "peer.unblock",
    "network-key.rotate",
    "receipt.verify",
)


async def test_answers_hold_the_declared_keys(nodes: tuple[Node, Node, Socket]) -> None:
    _, _, socket = nodes
    published = {
        "categories": ["violence"],
        "danger": 3,
        "region": "GB",
        "indicators": [["phone", "+447700900123"]],
    }
    runs: list[tuple[str, dict[str, Any]]] = [("alert.publish", published)]
    runs += [
        (name, {arg.name: arg.valid_example() for arg in ROUTES[name].args})
        for name in SAFE_WITH_EXAMPLES
    ]
    for name, args in runs:
        status, answer = await socket.call(name, args)
        assert status == 200, (name, answer)
        assert ROUTES[name].output, name
        assert set(ROUTES[name].output) <= set(answer), (name, sorted(answer))
    alert_id = (await socket.call("alert.list", {}))[1]["alerts"][0]["id"]
    status, answer = await socket.call("alert.retract", {"id": alert_id})
    assert status == 200 and set(ROUTES["alert.retract"].output) <= set(answer)
