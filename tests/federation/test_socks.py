"""Federation through a real SOCKS5 proxy on loopback (as a node reaches Tor).

Case 1: B reaches A through a proxy set on A's peer entry (``peer add --proxy``).
Case 2: A's card carries only an onion URL; B has ``socks_proxy`` in its config
(``init --socks-proxy``) and the test proxy maps that onion name to A's loopback port,
as Tor maps an onion address to a hidden service.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from node import config as config_mod
from node.app import Node
from node.errors import UsageError
from node.ops.initialise import init_node
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually, has_alert
from tests.federation.socks5 import Socks5Server


def onion_name(seed: bytes) -> str:
    """A well-formed v3 onion host name (key, checksum, version), for tests."""
    pubkey = hashlib.sha256(seed).digest()
    version = b"\x03"
    checksum = hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()[:2]
    return base64.b32encode(pubkey + checksum + version).decode().lower() + ".onion"


@pytest.fixture
async def proxy() -> AsyncIterator[Socks5Server]:
    server = await Socks5Server().start()
    yield server
    await server.close()


StartNode = Callable[..., Awaitable[Node]]


@pytest.fixture
async def start_node(short_tmp: Path) -> AsyncIterator[StartNode]:
    """Like make_node, with the init flags these tests need (public URL, SOCKS proxy)."""
    started: list[Node] = []
    numbers = itertools.count()

    async def factory(name: str, **init: object) -> Node:
        data = short_tmp / f"s{next(numbers)}"
        await init_node(
            data,
            name=name,
            web="127.0.0.1:0",
            fed="127.0.0.1:0",
            region="GB",
            passphrase=None,
            **init,  # type: ignore[arg-type]
        )
        node = Node(data, config_mod.load(data))
        await node.start(None)
        started.append(node)
        return node

    yield factory
    for node in started:
        await node.stop()


async def test_peer_reached_only_through_its_proxy(
    make_node: NodeFactory, proxy: Socks5Server
) -> None:
    a, b = await make_node("A"), await make_node("B")
    pa, pb = a.unlocked().trust, b.unlocked().trust
    await pb.add_peer(pa.card(), "relay", True, proxy.url)
    await pa.add_peer(pb.card(), "relay", True, None)
    a_port = int(pa.url.rsplit(":", 1)[1])

    alert_id = await a.unlocked().alerts.publish(draft(1, hops=1, phone="07700 900456"))
    await eventually(lambda: has_alert(b, alert_id), timeout=8)
    result = await b.unlocked().alerts.check("phone", "+44 7700 900456")
    assert result["matches"] == 1
    assert proxy.connections >= 1
    assert set(proxy.targets) == {("127.0.0.1", a_port)}

    # With the proxy gone, B cannot reach A at all: it never went direct.
    await proxy.close()
    (pulled,) = await pb.sync_now()
    assert pulled["error"] and "cannot be reached" in pulled["error"]


async def test_onion_peer_through_the_configured_socks_proxy(
    start_node: StartNode, proxy: Socks5Server
) -> None:
    onion = onion_name(b"node A")
    # A serves plain HTTP on loopback, as an onion service does behind Tor; its card
    # names only the onion address.
    a = await start_node("A", public_url=f"http://{onion}:0", allow_http=True)
    b = await start_node("B", public_url=None, socks_proxy=proxy.url)
    pa, pb = a.unlocked().trust, b.unlocked().trust
    assert pa.url.startswith(f"http://{onion}:")
    a_port = int(pa.url.rsplit(":", 1)[1])
    await pb.add_peer(pa.card(), "relay", True, None)
    await pa.add_peer(pb.card(), "relay", True, None)
    # Until the proxy knows the onion name it refuses the CONNECT, as Tor does for a
    # service that is down: a sync error for the admin, not a crash.
    (pulled,) = await pb.sync_now()
    assert pulled["error"] and "through the SOCKS proxy" in pulled["error"]
    assert proxy.refused >= 1 and proxy.connections == 0
    proxy.names.add(onion)

    alert_id = await a.unlocked().alerts.publish(draft(2, hops=1))
    await eventually(lambda: has_alert(b, alert_id), timeout=8)
    assert proxy.connections >= 1
    # The proxy, not B, resolved the onion name (rdns), and it was the only target.
    assert set(proxy.targets) == {(onion, a_port)}
    # And back: A reaches B directly over pinned HTTPS.
    back = await b.unlocked().alerts.publish(draft(3, hops=1))
    await eventually(lambda: has_alert(a, back), timeout=8)
    assert set(proxy.targets) == {(onion, a_port)}


async def test_proxy_refuses_targets_off_loopback_and_unknown_names(
    proxy: Socks5Server,
) -> None:
    import asyncio

    async def ask(request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"\x05\x01\x00")
        assert await reader.readexactly(2) == b"\x05\x00"
        writer.write(request)
        reply = await reader.readexactly(10)
        writer.close()
        await writer.wait_closed()
        return reply

    assert (await ask(b"\x05\x01\x00\x01" + bytes([192, 0, 2, 9]) + b"\x01\xbb"))[1] == 2
    name = b"elsewhere.example"
    assert (await ask(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + b"\x01\xbb"))[1] == 2
    assert (await ask(b"\x05\x02\x00\x01\x7f\x00\x00\x01\x01\xbb"))[1] == 7
    assert proxy.connections == 0 and proxy.refused == 3


async def test_init_checks_the_socks_proxy_url(short_tmp: Path) -> None:
    with pytest.raises(UsageError):
        await init_node(
            short_tmp / "bad",
            name="X",
            web="127.0.0.1:0",
            fed="127.0.0.1:0",
            public_url=None,
            region="GB",
            passphrase=None,
            socks_proxy="http://127.0.0.1:9050",
        )
