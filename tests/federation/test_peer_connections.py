"""Which requests let a connection idle longer (federation.listener keeps a trusted
peer's connection open ``peer_idle_timeout_s``): the server marks its reply
``from_peer`` only once the signature, the key on the trust list and the nonce have
checked out, whatever the route then answers. On the in-memory network; the
deadlines on real sockets are in tests/security/test_connections.py."""

from __future__ import annotations

import secrets

import nacl.signing

from federation.clock import FakeClock
from federation.server import Reply
from protocol import feed
from protocol.request import REQUEST_HEADER, sign_request
from tests.federation.memnet import MemNet, MemNode

POKE = feed.encode_poke(feed.Poke(0))
PATH = "/fed/v2/poke"


async def ask(
    server: MemNode, signer: nacl.signing.SigningKey, clock: FakeClock, *,
    body: bytes = POKE, nonce: bytes | None = None,
) -> Reply:  # fmt: skip
    header = sign_request(
        signer, "POST", PATH, body, server.pub, clock.now(), nonce or secrets.token_bytes(16)
    )
    handler = server.net.network.servers[server.addr]
    return await handler.handle("POST", PATH, {REQUEST_HEADER: header}, body)


async def test_only_a_trusted_peers_checked_request_is_from_a_peer(
    memnet: MemNet, clock: FakeClock
) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    nonce = secrets.token_bytes(16)
    answered = await ask(a, b.key, clock, nonce=nonce)
    assert answered.status < 300 and answered.from_peer
    # Refused by its route (a body that does not decode), yet checked: still a peer's.
    broken = await ask(a, b.key, clock, body=b"\xc1")
    assert broken.status >= 400 and broken.from_peer
    # A stranger's key, a replayed nonce, no signature at all: not a peer's.
    stranger = await ask(a, nacl.signing.SigningKey.generate(), clock)
    assert stranger.status >= 400 and not stranger.from_peer
    replayed = await ask(a, b.key, clock, nonce=nonce)
    assert replayed.status >= 400 and not replayed.from_peer
    handler = memnet.network.servers[a.addr]
    unsigned = await handler.handle("POST", PATH, {}, POKE)
    assert unsigned.status == 404 and not unsigned.from_peer
    # A suspended peer's request is not one either.
    await a.store.peers.set_policy(b.pub, suspended=True)
    suspended = await ask(a, b.key, clock)
    assert suspended.status >= 400 and not suspended.from_peer
