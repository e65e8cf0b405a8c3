"""``settings list`` and ``settings set`` on the control socket: the same validation as
the admin page, nothing changed by a refused value, values kept across a restart."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from node.app import Node
from node.settings import SETTINGS, validate
from tests.conftest import NodeFactory


class Socket:
    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    async def call(self, name: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        async with self.http.post(f"http://alertnode/v1/{name}", json=args) as resp:
            return resp.status, json.loads(await resp.text())


@pytest.fixture
async def node(make_node: NodeFactory) -> AsyncIterator[tuple[Node, Socket]]:
    a = await make_node("A")
    connector = aiohttp.UnixConnector(path=str(a.data_dir / "control.sock"))
    async with aiohttp.ClientSession(connector=connector) as http:
        yield a, Socket(http)


async def test_list_names_every_setting_with_its_value(node: tuple[Node, Socket]) -> None:
    _, socket = node
    status, answer = await socket.call("settings.list", {})
    assert status == 200
    assert set(answer["settings"]) == {s.name for s in SETTINGS}
    assert answer["settings"]["alert_hops"] == 2
    assert answer["settings"]["regions"] == ["GB"]


async def test_set_validates_like_the_admin_page_and_stores(node: tuple[Node, Socket]) -> None:
    a, socket = node
    status, answer = await socket.call("settings.set", {"name": "alert_hops", "value": "3"})
    assert status == 200 and answer == {"name": "alert_hops", "value": 3, "changed": True}
    assert a.unlocked().settings["alert_hops"] == 3
    assert (await a.unlocked().store.settings.all())["alert_hops"] == 3
    status, answer = await socket.call("settings.set", {"name": "regions", "value": "gb-lnd fr"})
    assert status == 200 and answer["value"] == ["FR", "GB-LND"]
    status, answer = await socket.call("settings.set", {"name": "alert_hops", "value": "3"})
    assert status == 200 and answer["changed"] is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("alert_hops", "7"),
        ("alert_hops", "two"),
        ("regions", "not a region"),
        ("quick_exit_url", "http://example.org"),
        ("report_withdrawal", "never"),
        ("no_such_setting", "1"),
    ],
)
async def test_a_refused_value_is_the_admin_pages_sentence_and_changes_nothing(
    node: tuple[Node, Socket], name: str, value: str
) -> None:
    a, socket = node
    before = a.unlocked().settings.as_dict()
    stored = await a.unlocked().store.settings.all()
    status, answer = await socket.call("settings.set", {"name": name, "value": value})
    assert status == 400
    with pytest.raises(Exception) as refused:  # the admin page's own check
        validate(name, value)
    assert answer["error"] == refused.value.message  # type: ignore[attr-defined]
    assert a.unlocked().settings.as_dict() == before
    assert await a.unlocked().store.settings.all() == stored
