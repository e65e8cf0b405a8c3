"""Requests crafted by hand against a real node's federation port: each is refused
with 401/403/413, no data is served, nothing stored changes, the node keeps serving."""

from __future__ import annotations

import secrets
import ssl

import aiohttp
import nacl.signing
import pytest

from federation.errors import PinMismatch, TransportNotAllowed
from federation.https import HttpsTransport
from federation.peers import Peer
from node.app import Node
from protocol import feed
from protocol.request import REQUEST_HEADER, sign_request
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, pair

STRANGER = nacl.signing.SigningKey(b"\x42" * 32)


def _ssl() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def post(node: Node, path: str, body: bytes, header: str | None) -> tuple[int, bytes]:
    url = node.unlocked().trust.url + path
    headers = {REQUEST_HEADER: header} if header is not None else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers, ssl=_ssl()) as resp,
    ):
        return resp.status, await resp.read()


def signed(key: nacl.signing.SigningKey, node: Node, path: str, body: bytes, **kw: object) -> str:
    return sign_request(
        key,
        str(kw.get("method", "POST")),
        str(kw.get("signed_path", path)),
        body,
        bytes.fromhex(str(kw.get("dest", node.config.key))),
        int(kw.get("now", node.clock.now())),  # type: ignore[call-overload]
        bytes(kw.get("nonce", secrets.token_bytes(16))),  # type: ignore[call-overload]
    )


async def snapshot(node: Node) -> dict[str, int]:
    return await node.unlocked().store.alerts.counts(node.clock.now())


async def test_crafted_requests_are_refused(make_node: NodeFactory) -> None:
    a = await make_node("A")
    b = await make_node("B")
    await pair(a, b)
    await a.unlocked().alerts.publish(draft(1))
    before = await snapshot(a)
    path = "/fed/v1/changes"
    body = feed.encode_changes_request(feed.ChangesRequest(0, 10))
    b_signing = b.unlocked().keys.signing

    # Unsigned, garbage header, stranger's key, wrong destination, wrong path, stale clock.
    assert (await post(a, path, body, None))[0] == 401
    assert (await post(a, path, body, "not-base64!"))[0] == 401
    assert (await post(a, path, body, signed(STRANGER, a, path, body)))[0] == 403
    assert (await post(a, path, body, signed(b_signing, a, path, body, dest=b.config.key)))[
        0
    ] == 401
    wrong_path = signed(b_signing, a, path, body, signed_path="/fed/v1/bodies")
    assert (await post(a, path, body, wrong_path))[0] == 401
    stale = signed(b_signing, a, path, body, now=a.clock.now() - 600)
    assert (await post(a, path, body, stale))[0] == 401
    # A body other than the signed one.
    assert (await post(a, path, body + b"\x00", signed(b_signing, a, path, body)))[0] == 401

    # A replay: the same signed request twice.
    header = signed(b_signing, a, path, body)
    status, data = await post(a, path, body, header)
    assert status == 200 and feed.decode_changes_response(data).entries
    assert (await post(a, path, body, header))[0] == 401

    # Oversized and malformed bodies, correctly signed.
    big = b"\x00" * (feed.MAX_BODIES_REQUEST_BYTES + 1)
    assert (await post(a, path, big, signed(b_signing, a, path, big)))[0] == 413
    junk = b"\xc1\xff\x00"
    status, _ = await post(a, path, junk, signed(b_signing, a, path, junk))
    assert status in (400, 422)
    deep = b"\x91" * 200 + b"\xc0"
    assert (await post(a, path, deep, signed(b_signing, a, path, deep)))[0] in (400, 413)

    # A suspended peer gets 403 and no data.
    await a.unlocked().trust.set_peer("B", suspended=True)
    status, data = await post(a, path, body, signed(b_signing, a, path, body))
    assert status == 403 and b"alert" not in data
    # Nothing stored changed, and the node still serves its honest peers.
    assert await snapshot(a) == before
    await a.unlocked().trust.set_peer("B", suspended=False)
    status, _ = await post(a, path, body, signed(b_signing, a, path, body))
    assert status == 200


async def test_certificate_pin_and_plain_http_rules(make_node: NodeFactory) -> None:
    a = await make_node("A")
    b = await make_node("B")
    await pair(a, b)
    peer_b = await a.unlocked().store.peers.get(bytes.fromhex(b.config.key))
    assert peer_b is not None
    transport = a.unlocked().trust.transport
    ok = feed.encode_changes_request(feed.ChangesRequest(0, 1))
    await transport.post(peer_b, "/changes", ok, feed.MAX_CHANGES_RESPONSE_BYTES)
    # A node presenting another certificate is refused.
    wrong_pin = Peer(peer_b.key, peer_b.name, peer_b.urls, (b"\x00" * 32,))
    with pytest.raises(PinMismatch):
        await transport.post(wrong_pin, "/changes", ok, feed.MAX_CHANGES_RESPONSE_BYTES)
    # Plain HTTP is refused without the explicit flag, even to loopback ...
    plain = Peer(peer_b.key, peer_b.name, ("http://127.0.0.1:9",), ())
    with pytest.raises(TransportNotAllowed):
        transport.route(plain)
    # ... and with it, only to loopback.
    flagged = HttpsTransport(a.unlocked().keys.signing, a.clock, allow_http=True)
    try:
        assert flagged.route(plain)[0] == "http://127.0.0.1:9"
        with pytest.raises(TransportNotAllowed):
            flagged.route(Peer(peer_b.key, "x", ("http://192.0.2.1:9",), ()))
    finally:
        await flagged.close()
