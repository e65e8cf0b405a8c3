"""'alertnode move' on real in-process nodes over pinned HTTPS on loopback: the moved
node's card and node.json name the new URL, its peer applies the signed statement and
keeps syncing without pairing again, and the move hook is called (where members'
"we moved" notices are wired)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from node import config as config_mod
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually, has_alert, pair


async def call(node: Any, name: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    connector = aiohttp.UnixConnector(path=str(node.data_dir / "control.sock"))
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.post(f"http://alertnode/v1/{name}", json=args) as resp,
    ):
        return resp.status, json.loads(await resp.text())


async def test_a_moved_node_is_followed_by_its_peer(make_node: NodeFactory) -> None:
    a, b = await make_node("A"), await make_node("B")
    await pair(a, b)
    moved: list[str] = []

    async def hook(url: str) -> None:
        moved.append(url)

    a.unlocked().trust.on_moved.append(hook)
    port = a.unlocked().trust.url.rsplit(":", 1)[1]
    new_url = f"https://localhost:{port}"
    status, answer = await call(a, "move", {"public_url": new_url})
    assert status == 200, answer
    assert answer["url"] == new_url and answer["told"] == ["B"] and answer["missed"] == []
    assert answer["restart"] is False
    assert moved == [new_url]
    assert config_mod.load(a.data_dir).public_url == new_url
    assert a.unlocked().trust.url == new_url
    peer = await b.unlocked().store.peers.get(a.unlocked().keys.signing.verify_key.encode())
    assert peer is not None and peer.urls == (new_url,)
    alert_id = await a.unlocked().alerts.publish(draft(1))
    await b.unlocked().trust.sync_now()
    await eventually(lambda: has_alert(b, alert_id))


async def test_a_bad_url_moves_nothing(make_node: NodeFactory) -> None:
    a = await make_node("A")
    before = config_mod.load(a.data_dir)
    for url in ("http://plain.example.org", "not a url", "https://x.example.org/?q=1"):
        status, answer = await call(a, "move", {"public_url": url})
        assert status == 400, (url, answer)
    status, answer = await call(a, "move", {"public_url": "https://n.example.org", "fed": "x"})
    assert status == 400
    assert config_mod.load(a.data_dir) == before
    assert await a.unlocked().store.peers.owed_rotations() == []
