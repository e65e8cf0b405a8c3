"""A node behind a reverse proxy at https://host/some/prefix/: which path is signed and
which paths the server answers (docs/protocol.md, "Content types and paths").

On the in-memory network: the client signs the whole path it sends, prefix included;
the server answers only under the prefixes of its own card URLs, checks the signature
against the path exactly as it arrived, and tells a peer asking for another federation
version so. A proxy that strips or adds a prefix breaks the signature, never widens it.
"""

from __future__ import annotations

import secrets
import ssl

import aiohttp
import msgpack
import pytest

from federation.memory import address
from federation.server import find_route, url_prefix
from federation.transport import BASE_PATH
from protocol import feed
from protocol.request import REQUEST_HEADER, sign_request
from tests.conftest import NodeFactory
from tests.federation.memnet import MemNet, MemNode
from tests.federation.nodes import draft, has_alert, pair

PREFIX = "/some/prefix"
ASK = feed.encode_changes_request(feed.ChangesRequest(0, 10))


async def behind_proxy(net: MemNet) -> tuple[MemNode, MemNode]:
    """A and B peers; B's card URL is mem://b/some/prefix/ and B answers under it."""
    a, b = await net.node("a"), await net.node("b")
    b.state.prefixes = (url_prefix(address("b") + PREFIX + "/"),)
    await a.store.peers.add(
        b.pub, "b", (address("b") + PREFIX + "/",), (b"\x00" * 32,),
        accept="relay", share=True, proxy=None, now=net.clock.now(),
    )  # fmt: skip
    await net.add_peer(b, a)
    return a, b


async def ask(
    node: MemNode, sender: MemNode, path: str, *, signed_path: str | None = None
) -> tuple[int, str | None]:
    """A request from ``sender`` arriving at ``node`` on ``path``: (status, code)."""
    header = sign_request(
        sender.key, "POST", signed_path or path, ASK, node.pub, node.net.clock.now(),
        secrets.token_bytes(16),
    )  # fmt: skip
    server = node.net.network.servers[node.addr]
    reply = await server.handle("POST", path, {REQUEST_HEADER: header}, ASK)
    if reply.status < 300:
        return reply.status, None
    return reply.status, str(msgpack.unpackb(reply.body, raw=False)["code"])


def _insecure() -> ssl.SSLContext:
    """Raw requests in this test skip the pin: what is tested is the path."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_a_card_url_gives_its_path_without_the_trailing_slash() -> None:
    assert url_prefix("https://host.example/some/prefix/") == "/some/prefix"
    assert url_prefix("https://host.example/some/prefix") == "/some/prefix"
    assert url_prefix("https://host.example:8443") == ""
    assert url_prefix("https://host.example/") == ""
    assert BASE_PATH == "/fed/v2"


async def test_sync_works_through_a_path_prefix_and_signs_the_whole_path(memnet: MemNet) -> None:
    a, b = await behind_proxy(memnet)
    alert = await b.publish("behind a proxy")
    result = await a.pull(b)
    assert result.error is None
    assert await a.has(alert)
    paths = {d.path for d in memnet.network.log if d.destination == b.addr}
    assert paths >= {PREFIX + "/fed/v2/changes", PREFIX + "/fed/v2/bodies"}
    assert all(d.status == 200 for d in memnet.network.log if d.destination == b.addr)


async def test_the_server_answers_only_under_its_own_prefixes(memnet: MemNet) -> None:
    a, b = await behind_proxy(memnet)
    assert await ask(b, a, PREFIX + "/fed/v2/changes") == (200, None)
    assert await ask(b, a, PREFIX + "/fed/v2/changes?since=0") == (200, None)
    # Correctly signed, but not where this node's card says it lives.
    for path in ("/fed/v2/changes", "/other/fed/v2/changes", PREFIX + "x/fed/v2/changes",
                 "/some/fed/v2/changes", PREFIX + "/x/fed/v2/changes"):  # fmt: skip
        assert await ask(b, a, path) == (404, "not_found"), path
    # A node with no path in its card answers at the root only.
    assert await ask(a, b, "/fed/v2/changes") == (200, None)
    assert await ask(a, b, PREFIX + "/fed/v2/changes") == (404, "not_found")


async def test_a_proxy_that_rewrites_the_path_breaks_the_signature(memnet: MemNet) -> None:
    """The signature covers the path as the client sent it: a proxy that strips the
    prefix (or adds one) delivers a path nobody signed."""
    a, b = await behind_proxy(memnet)
    b.state.prefixes = ("", PREFIX)
    stripped = await ask(b, a, "/fed/v2/changes", signed_path=PREFIX + "/fed/v2/changes")
    assert stripped == (401, "bad_signature")
    added = await ask(b, a, PREFIX + "/fed/v2/changes", signed_path="/fed/v2/changes")
    assert added == (401, "bad_signature")


async def test_another_federation_version_is_refused_with_its_code(memnet: MemNet) -> None:
    a, b = await behind_proxy(memnet)
    for version in ("v1", "v3", "v0"):
        path = f"{PREFIX}/fed/{version}/changes"
        assert await ask(b, a, path) == (400, "unsupported_version"), path
    assert await ask(b, a, PREFIX + "/fed/v2/nothing") == (404, "not_found")
    assert await ask(b, a, PREFIX + "/fed/v2") == (404, "not_found")
    assert await ask(b, a, PREFIX + "/fed/vx/changes") == (404, "not_found")


@pytest.mark.parametrize(
    ("path", "prefixes", "found"),
    [
        ("/fed/v2/changes", ("",), True),
        ("/fed/v2/changes?x=/a/fed/v2/changes", ("",), True),
        ("/a/fed/v2/changes", ("", "/a"), True),
        ("/a/fed/v2/changes", ("/a", ""), True),
        ("/a/fed/v2/changes", ("",), False),
        ("/fed/v2/changes", ("/a",), False),
        ("/a/b/fed/v2/changes", ("/a",), False),
        ("//fed/v2/changes", ("",), False),
    ],
)
def test_find_route(path: str, prefixes: tuple[str, ...], found: bool) -> None:
    assert callable(find_route(path, prefixes)) is found


async def test_over_https_a_node_behind_a_prefix_is_reached_under_it(
    make_node: NodeFactory,
) -> None:
    """Real nodes, pinned TLS on loopback: B's card URL has a path; A signs and sends
    the prefixed path, B answers there and only there."""
    a = await make_node("A")
    b = await make_node("B", public_url="https://127.0.0.1:0/some/prefix/")
    assert b.unlocked().trust.url.endswith(PREFIX + "/")
    await pair(a, b)
    alert = await b.unlocked().alerts.publish(draft(1))
    peer = await a.unlocked().store.peers.get(bytes.fromhex(b.config.key))
    assert peer is not None and peer.urls == (b.unlocked().trust.url,)
    result = await a.unlocked().trust.syncer.pull(peer)
    assert result.error is None, result.error
    assert await has_alert(a, alert)

    base = b.unlocked().trust.url.rstrip("/").removesuffix(PREFIX)
    signing = a.unlocked().keys.signing
    async with aiohttp.ClientSession() as session:
        for path, status in ((PREFIX + "/fed/v2/changes", 200), ("/fed/v2/changes", 404)):
            header = sign_request(
                signing, "POST", path, ASK, bytes.fromhex(b.config.key), b.clock.now(),
                secrets.token_bytes(16),
            )  # fmt: skip
            async with session.post(
                base + path, data=ASK, headers={REQUEST_HEADER: header}, ssl=_insecure()
            ) as resp:
                assert resp.status == status, path
