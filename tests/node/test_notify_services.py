"""Apprise services other than e-mail and json:// against local endpoints that
receive what the real service would (issue 15, point 5): an ntfy server and a
signal-cli REST API on 127.0.0.1, each captured by an aiohttp app. What arrives is
the content-free notice under the neutral title, addressed to the member's topic or
number. Also ``notify_members``: a neutral notice to every subscriber at once (the
hook issue 16's "we moved" uses)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from node.errors import UsageError
from node.notify.outbox import notify_members
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually
from tests.node.test_notify import NOTICE, member, prefs, run

MOVED = "Our site has a new address; open it from the link we gave you, or ask us."


@dataclass
class Capture:
    """Every request a local stand-in for a service received."""

    got: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append((request.method, request.path, dict(request.headers), await request.read()))
        if request.path.startswith("/v2/send"):  # signal-cli REST API
            return web.json_response({"timestamp": "1"}, status=201)
        return web.json_response({"id": "x", "event": "message"})  # ntfy

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, _, body in self.got]


@pytest.fixture(name="service")
async def service_fixture() -> AsyncIterator[tuple[Capture, int]]:
    capture = Capture()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", capture.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield capture, server.port
    finally:
        await server.close()


async def _count(capture: Capture, n: int) -> bool:
    return len(capture.got) >= n


async def test_ntfy_receives_the_content_free_notice_on_her_topic(
    make_node: NodeFactory, service: tuple[Capture, int]
) -> None:
    capture, port = service
    node = await make_node()
    await run(node, "channel.add", name="push", url=f"ntfy://127.0.0.1:{port}")
    her = await member(node)
    await node.unlocked().store.notify.subscribe(her, "push", prefs(address="her-topic-19"))
    await node.unlocked().alerts.publish(draft(1, phone="07700 900123", description="red car"))
    await eventually(lambda: _count(capture, 1))
    ((method, path, headers, raw),) = capture.got
    body = json.loads(raw)
    assert method == "POST"
    assert body["topic"] == "her-topic-19" or path.endswith("/her-topic-19")
    assert body["message"] == NOTICE and body.get("title") == "Community notes"
    for leak in ("red car", "900123", "Violence", "dangerous"):
        assert leak not in raw.decode()
    # What the service's operator learns of the sender (docs/threat-model.md).
    assert headers["User-Agent"].startswith("Apprise")


async def test_signal_cli_rest_api_receives_the_notice_for_her_number(
    make_node: NodeFactory, service: tuple[Capture, int]
) -> None:
    capture, port = service
    node = await make_node()
    url = f"signal://127.0.0.1:{port}/+447700900001"  # the organisation's own number
    await run(node, "channel.add", name="signal", url=url)
    her = await member(node)
    await node.unlocked().store.notify.subscribe(her, "signal", prefs(address="+447700900777"))
    await node.unlocked().alerts.publish(draft(1, phone="07700 900123", description="red car"))
    await eventually(lambda: _count(capture, 1))
    ((method, path, _, raw),) = capture.got
    body = json.loads(raw)
    assert (method, path) == ("POST", "/v2/send")
    assert body["number"] == "+447700900001" and body["recipients"] == ["+447700900777"]
    assert NOTICE in body["message"]
    for leak in ("red car", "900123", "Violence", "dangerous"):
        assert leak not in raw.decode()


async def test_notify_members_queues_a_neutral_notice_to_every_subscriber_at_once(
    make_node: NodeFactory, service: tuple[Capture, int]
) -> None:
    capture, port = service
    node = await make_node()
    await run(node, "channel.add", name="push", url=f"ntfy://127.0.0.1:{port}")
    notify = node.unlocked().store.notify
    first, second = await member(node, "First"), await member(node, "Second")
    await notify.subscribe(first, "push", prefs(address="topic-a"))
    # A daily-digest subscriber too: the move is not an alert and cannot wait a day.
    await notify.subscribe(second, "push", prefs(address="topic-b", digest=True, lang="fr"))
    assert await notify_members(node, "moved") == 2
    await eventually(lambda: _count(capture, 2))
    bodies = sorted(capture.bodies(), key=lambda b: str(b.get("topic")))
    assert bodies[0]["message"] == MOVED
    assert bodies[1]["message"]  # in French once translated; never empty
    with pytest.raises(UsageError):
        await notify_members(node, "resources")  # not a one-line text
    with pytest.raises(UsageError):
        await notify_members(node, "no-such-text")


async def test_a_move_sends_subscribers_the_moved_notice(
    make_node: NodeFactory, service: tuple[Capture, int]
) -> None:
    # Issue 16.4: 'alertnode move' (Trust.on_moved, wired in node/app.py) queues the
    # neutral "moved" text to every subscriber.
    capture, port = service
    node = await make_node()
    await run(node, "channel.add", name="push", url=f"ntfy://127.0.0.1:{port}")
    notify = node.unlocked().store.notify
    await notify.subscribe(await member(node, "First"), "push", prefs(address="topic-a"))
    from node.commands.organisation import COMMANDS
    from node.commands.table import parse_args

    move = next(c for c in COMMANDS if c.name == "move")
    assert move.handler is not None
    await move.handler(node, parse_args(move, {"public_url": "https://moved.example.org:8443"}))
    await eventually(lambda: _count(capture, 1))
    assert capture.bodies()[0]["message"] == MOVED
