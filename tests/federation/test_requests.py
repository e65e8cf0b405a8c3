"""Requests crafted by hand against a real node's federation port: each is refused
with its code and status (a stranger without the header gets a plain 404), no data is
served, nothing stored changes, the node keeps serving. And what a scanner sees: no
Server header on either port, no fixed name in the certificate."""

from __future__ import annotations

import secrets
import ssl

import aiohttp
import msgpack
import nacl.signing
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from federation.errors import WIRE_CODES, PinMismatch, TransportNotAllowed
from federation.https import HttpsTransport
from federation.trust import Peer
from node.app import Node
from node.keys import tls
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


def code(data: bytes) -> str:
    doc = msgpack.unpackb(data, raw=False)
    assert isinstance(doc, dict)
    return str(doc["code"])


async def snapshot(node: Node) -> dict[str, int]:
    return await node.unlocked().store.alerts.counts(node.clock.now())


async def test_crafted_requests_are_refused(make_node: NodeFactory) -> None:
    a = await make_node("A")
    b = await make_node("B")
    await pair(a, b)
    await a.unlocked().alerts.publish(draft(1))
    before = await snapshot(a)
    path = "/fed/v2/changes"
    body = feed.encode_changes_request(feed.ChangesRequest(0, 10))
    b_signing = b.unlocked().keys.signing

    # Unsigned: a stranger's request, a plain 404. Then a garbage header, a stranger's
    # key, the wrong destination, the wrong path, a stale clock.
    assert await post(a, path, body, None) == (404, b"404: Not Found")
    refusals = [
        ("not-base64!", body, "malformed"),
        (signed(STRANGER, a, path, body), body, "unknown_node"),
        (signed(b_signing, a, path, body, dest=b.config.key), body, "bad_signature"),
        (signed(b_signing, a, path, body, signed_path="/fed/v2/bodies"), body, "bad_signature"),
        (signed(b_signing, a, path, body, now=a.clock.now() - 600), body, "clock_skew"),
        # A body other than the signed one.
        (signed(b_signing, a, path, body), body + b"\x00", "bad_signature"),
    ]
    for header, sent, expected in refusals:
        status, data = await post(a, path, sent, header)
        assert code(data) == expected and status == WIRE_CODES[expected].status

    # A replay: the same signed request twice.
    header = signed(b_signing, a, path, body)
    status, data = await post(a, path, body, header)
    assert status == 200 and feed.decode_changes_response(data).entries
    status, data = await post(a, path, body, header)
    assert (status, code(data)) == (401, "replayed")

    # Oversized and malformed bodies, correctly signed.
    big = b"\x00" * (feed.MAX_BODIES_REQUEST_BYTES + 1)
    status, data = await post(a, path, big, signed(b_signing, a, path, big))
    assert (status, code(data)) == (413, "too_large")
    junk = b"\xc1\xff\x00"
    status, data = await post(a, path, junk, signed(b_signing, a, path, junk))
    assert (status, code(data)) == (400, "malformed")
    deep = b"\x91" * 200 + b"\xc0"
    status, data = await post(a, path, deep, signed(b_signing, a, path, deep))
    assert (status, code(data)) == (413, "too_large")

    # A suspended peer gets 403 and no data.
    await a.unlocked().trust.set_peer("B", suspended=True)
    status, data = await post(a, path, body, signed(b_signing, a, path, body))
    assert (status, code(data)) == (403, "suspended")
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


async def test_what_a_scanner_sees(make_node: NodeFactory) -> None:
    """No header: a plain 404 on any path and method; no Server header on either port;
    random certificate names, different per node."""
    a = await make_node("A")
    b = await make_node("B")
    fed = a.unlocked().trust.url
    async with aiohttp.ClientSession() as session:
        for method, path in (("GET", "/"), ("GET", "/fed/v2/changes"), ("POST", "/fed/v2/changes"),
                             ("POST", "/x/y?z=1"), ("HEAD", "/robots.txt")):  # fmt: skip
            async with session.request(method, fed + path, ssl=_ssl(), data=b"x") as resp:
                text = await resp.read()
                assert resp.status == 404, (method, path)
                assert "Server" not in resp.headers, resp.headers
                assert resp.content_type == "text/plain"
                if method != "HEAD":
                    assert text == b"404: Not Found"
                assert REQUEST_HEADER.lower().encode() not in text.lower()
                assert b"alertnode" not in text.lower()
        # A signed refusal is structured, and names no server either.
        body = feed.encode_changes_request(feed.ChangesRequest(0, 1))
        header = signed(STRANGER, a, "/fed/v2/changes", body)
        async with session.post(
            fed + "/fed/v2/changes", data=body, headers={REQUEST_HEADER: header}, ssl=_ssl()
        ) as resp:
            assert (resp.status, resp.content_type) == (403, "application/msgpack")
            assert "Server" not in resp.headers
            assert code(await resp.read()) == "unknown_node"
        # The web port: a page and a missing page.
        for path in ("", "does-not-exist"):
            async with session.get(a.web_url + path, allow_redirects=False) as resp:
                assert "Server" not in resp.headers, (path, resp.headers)

    def der(node: Node) -> bytes:
        pem = (node.data_dir / tls.CERT_FILE).read_bytes()
        cert = x509.load_pem_x509_certificate(pem)
        return cert.public_bytes(serialization.Encoding.DER)

    def names(node: Node) -> tuple[str, str]:
        cert = x509.load_der_x509_certificate(der(node))
        return cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()

    assert b"alertnode" not in der(a).lower() and b"alertnode" not in der(b).lower()
    assert names(a)[0] != names(b)[0] and names(a)[1] != names(b)[1]
