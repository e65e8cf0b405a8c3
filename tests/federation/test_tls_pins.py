"""SPKI pinning over real TLS: what only a real handshake can show.

A wrong key is refused before one byte of the request is written; a pin set accepts
any of its keys; a renewed certificate on the same key needs nothing from peers; a
pin statement adds the next key's pin before the switch and drops the old one after.
"""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

import nacl.signing
import pytest

from federation.clock import SystemClock
from federation.errors import PeerUnreachable, PinMismatch
from federation.https import HttpsTransport
from federation.trust import Peer
from node.keys import tls
from protocol import feed
from tests.conftest import NodeFactory
from tests.federation.nodes import pair

OK = feed.encode_changes_request(feed.ChangesRequest(0, 1))
CAP = feed.MAX_CHANGES_RESPONSE_BYTES
DATA_KEY = b"\x09" * 32


async def _recording_tls_server(data_dir: Path) -> tuple[asyncio.Server, int, list[bytes]]:
    """A TLS server on loopback with a fresh key that records what each client sends."""
    tls.create(data_dir, DATA_KEY, datetime.datetime.now(datetime.UTC))
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            received.append(await reader.read(65536))
        except (ConnectionError, OSError):
            received.append(b"")
        writer.close()

    server = await asyncio.start_server(
        handle, "127.0.0.1", 0, ssl=tls.server_context(data_dir, DATA_KEY)
    )
    return server, server.sockets[0].getsockname()[1], received


@pytest.mark.parametrize("right_pin", [False, True])
async def test_a_wrong_key_gets_no_request_bytes(tmp_path: Path, right_pin: bool) -> None:
    server, port, received = await _recording_tls_server(tmp_path)
    pins = (tls.spki_hash(tmp_path),) if right_pin else (b"\x00" * 32,)
    peer = Peer(b"\x01" * 32, "x", (f"https://127.0.0.1:{port}",), pins)
    transport = HttpsTransport(nacl.signing.SigningKey(b"\x02" * 32), SystemClock())
    try:
        expected = PeerUnreachable if right_pin else PinMismatch
        with pytest.raises(expected):
            await transport.post(peer, "/changes", OK, CAP)
        async with asyncio.timeout(5):
            while not received:
                await asyncio.sleep(0.01)
    finally:
        await transport.close()
        server.close()
    if right_pin:  # the positive control: the recorder does see a request
        assert received[0].startswith(b"POST /fed/v2/changes")
    else:
        assert received == [b""]


async def test_a_pin_set_accepts_either_key(make_node: NodeFactory) -> None:
    a, b = await make_node("A"), await make_node("B")
    await pair(a, b)
    peer_b = await a.unlocked().store.peers.get(bytes.fromhex(b.config.key))
    assert peer_b is not None and len(peer_b.pins) == 1
    transport = a.unlocked().trust.transport
    (right,) = peer_b.pins
    for pins in ((b"\x00" * 32, right), (right, b"\xff" * 32)):
        other = Peer(peer_b.key, peer_b.name, peer_b.urls, pins)
        await transport.post(other, "/changes", OK, CAP)
    with pytest.raises(PinMismatch):
        wrong = Peer(peer_b.key, peer_b.name, peer_b.urls, (b"\x00" * 32, b"\xff" * 32))
        await transport.post(wrong, "/changes", OK, CAP)


async def test_renewal_keeps_the_pin_and_needs_no_re_pairing(make_node: NodeFactory) -> None:
    a, b = await make_node("A"), await make_node("B")
    await pair(a, b)
    peer_b = await a.unlocked().store.peers.get(bytes.fromhex(b.config.key))
    assert peer_b is not None
    before = tls.expires_at(b.data_dir)
    assert before - datetime.datetime.now(datetime.UTC) <= datetime.timedelta(
        days=tls.VALIDITY_DAYS
    )
    trust_b = b.unlocked().trust
    # Not due yet: nothing happens.
    assert trust_b.renew_certificate()["renewed"] is False
    # Eleven days before it ends (inside the 30-day window) it is renewed, same key.
    later = before - datetime.timedelta(days=11)
    assert trust_b.renew_certificate(later)["renewed"] is True
    assert tls.expires_at(b.data_dir) > before
    assert tls.pins(b.data_dir) == peer_b.pins
    # A's stored pin still matches the new certificate on a fresh connection.
    await a.unlocked().trust.transport.close()
    await a.unlocked().trust.transport.post(peer_b, "/changes", OK, CAP)


async def test_a_pin_statement_adds_the_next_key_then_drops_the_old(
    make_node: NodeFactory,
) -> None:
    a, b = await make_node("A"), await make_node("B")
    await pair(a, b)
    key_b = bytes.fromhex(b.config.key)
    peers_a = a.unlocked().store.peers
    old = (await peers_a.get(key_b)).pins  # type: ignore[union-attr]
    told = await b.unlocked().trust.prepare_tls_key()
    assert told == {"pins": 2, "told": 1, "missed": 0}
    both = (await peers_a.get(key_b)).pins  # type: ignore[union-attr]
    assert set(old) < set(both) and len(both) == 2
    assert await b.unlocked().trust.switch_tls_key() == {"pins": 1, "told": 1, "missed": 0}
    after = await peers_a.get(key_b)
    assert after is not None and after.pins == tls.pins(b.data_dir)
    assert after.pins != old and set(after.pins) < set(both)
    await a.unlocked().trust.transport.close()  # connections checked before the switch
    await a.unlocked().trust.transport.post(after, "/changes", OK, CAP)
    # An older statement (or the card's own date) cannot bring the old pin back.
    assert not await peers_a.set_pins(key_b, old, 0)
    # The retired key's pin no longer matches what B serves.
    with pytest.raises(PinMismatch):
        await a.unlocked().trust.transport.post(
            Peer(after.key, after.name, after.urls, old), "/changes", OK, CAP
        )
