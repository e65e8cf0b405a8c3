"""Key rotation, receiving side, between real nodes: POST /fed/v2/rotate over HTTPS.

A announces to B that it moves from its old key to a new one, in a request signed by
the old key. B moves A's trust-list entry (name, policy, URLs, pin) to the new key.
Someone else's rotation, passed on by C, retires A's old key at B but moves no entry;
a rotation whose new-key proof does not verify is refused. Neither changes B's trust
list.
"""

from __future__ import annotations

import nacl.signing
import pytest

from federation.errors import PeerRefused
from federation.https import HttpsTransport
from federation.trust import Peer
from node.app import Node
from protocol import feed
from protocol.rotation import RotationBody, sign_rotation
from protocol.signing import Kind, sign
from tests.conftest import NodeFactory
from tests.federation.nodes import pair

MAX_ROTATE_RESPONSE_BYTES = 1024


def key_of(node: Node) -> bytes:
    return bytes.fromhex(node.config.key)


async def entry(owner: Node, peer: Node) -> Peer:
    """``owner``'s trust-list entry for ``peer`` (how ``owner`` reaches it)."""
    found = await owner.unlocked().store.peers.get(key_of(peer))
    assert found is not None
    return found


async def post_rotate(
    sender: Node, key: nacl.signing.SigningKey, to: Peer, statement: bytes
) -> bytes:
    transport = HttpsTransport(key, sender.clock)
    try:
        return await transport.post(to, "/rotate", statement, MAX_ROTATE_RESPONSE_BYTES)
    finally:
        await transport.close()


async def changes_as(sender: Node, key: nacl.signing.SigningKey, to: Peer) -> feed.ChangesResponse:
    transport = HttpsTransport(key, sender.clock)
    try:
        raw = await transport.post(
            to,
            "/changes",
            feed.encode_changes_request(feed.ChangesRequest(0, 10, None)),
            feed.MAX_CHANGES_RESPONSE_BYTES,
        )
    finally:
        await transport.close()
    return feed.decode_changes_response(raw)


async def test_rotation_moves_the_peer_entry_to_the_new_key(make_node: NodeFactory) -> None:
    a, b = await make_node("A"), await make_node("B")
    await pair(a, b)
    await b.unlocked().trust.set_peer("A", accept="direct", share=False)
    before = await entry(b, a)
    old_key: nacl.signing.SigningKey = a.unlocked().keys.signing
    new_key = nacl.signing.SigningKey.generate()
    new = bytes(new_key.verify_key)
    statement = sign_rotation(old_key, new_key, a.clock.now()).envelope.to_bytes()

    assert await post_rotate(a, old_key, await entry(a, b), statement) == b""

    peers_b = b.unlocked().store.peers
    assert await peers_b.get(key_of(a)) is None
    moved = await peers_b.get(new)
    assert moved is not None
    assert (moved.name, moved.urls, moved.pins) == (
        before.name,
        before.urls,
        before.pins,
    )
    assert (moved.accept, moved.share, moved.suspended) == ("direct", False, False)
    listed = {p["key"]: p for p in await b.unlocked().trust.list_peers()}
    assert set(listed) == {new.hex()} and listed[new.hex()]["name"] == "A"

    # B now authenticates A by the new key only.
    await b.unlocked().trust.set_peer("A", share=True)
    response = await changes_as(a, new_key, await entry(a, b))
    assert response.epoch
    with pytest.raises(PeerRefused) as refused:
        await changes_as(a, old_key, await entry(a, b))
    assert (refused.value.status, refused.value.code) == (403, "unknown_node")
    # The statement cannot be played again: the old key is no longer a peer.
    with pytest.raises(PeerRefused) as refused:
        await post_rotate(a, old_key, await entry(a, b), statement)
    assert (refused.value.status, refused.value.code) == (403, "unknown_node")


async def test_rotation_of_another_nodes_key_moves_no_entry(make_node: NodeFactory) -> None:
    a, b, c = await make_node("A"), await make_node("B"), await make_node("C")
    await pair(a, b)
    await pair(c, b)
    new_key = nacl.signing.SigningKey.generate()
    # A's genuine statement, but C passes it on: B learns that A's old key is retired
    # (both keys signed it), but only A's own word moves A's entry.
    statement = sign_rotation(a.unlocked().keys.signing, new_key, a.clock.now()).envelope.to_bytes()
    assert await post_rotate(c, c.unlocked().keys.signing, await entry(c, b), statement) == b""
    peers_b = b.unlocked().store.peers
    assert await peers_b.retired_at(key_of(a)) is not None
    assert await peers_b.get(key_of(a)) is not None
    assert await peers_b.get(key_of(c)) is not None
    assert await peers_b.get(bytes(new_key.verify_key)) is None


async def test_forged_rotation_is_refused(make_node: NodeFactory) -> None:
    a, b = await make_node("A"), await make_node("B")
    await pair(a, b)
    old_key: nacl.signing.SigningKey = a.unlocked().keys.signing
    stolen = bytes(nacl.signing.SigningKey.generate().verify_key)
    # Signed by A's old key, but the "new" key never signed the proof: a rotation
    # onto a key A does not hold (say, one copied from elsewhere).
    now = a.clock.now()
    good = sign_rotation(old_key, nacl.signing.SigningKey.generate(), now).body
    body = RotationBody(key_of(a), stolen, good.created, good.proof)
    forged = sign(Kind.ROTATION, body.to_bytes(), old_key).to_bytes()
    with pytest.raises(PeerRefused) as refused:
        await post_rotate(a, old_key, await entry(a, b), forged)
    assert (refused.value.status, refused.value.code) == (401, "bad_signature")
    # Garbage is refused as malformed, with no change either.
    with pytest.raises(PeerRefused) as refused:
        await post_rotate(a, old_key, await entry(a, b), b"\x93not a rotation")
    assert (refused.value.status, refused.value.code) == (400, "malformed")
    peers_b = b.unlocked().store.peers
    assert await peers_b.get(key_of(a)) is not None
    assert await peers_b.get(stolen) is None
