"""After a peer rotates its key, the syncer follows it and names stay right (the old
key still names the same organisation); a
rotation onto a key that already belongs to another peer is refused (409)."""

from __future__ import annotations

import nacl.signing
import pytest

from federation.errors import PeerRefused
from protocol.rotation import sign_rotation
from tests.conftest import NodeFactory
from tests.federation.nodes import pair
from tests.federation.test_rotation_e2e import entry, key_of, post_rotate


async def test_syncer_and_names_follow_a_rotation(make_node: NodeFactory) -> None:
    a, b = await make_node("A"), await make_node("B")
    await pair(a, b)
    new_key = nacl.signing.SigningKey.generate()
    new = bytes(new_key.verify_key)
    statement = sign_rotation(a.unlocked().keys.signing, new_key, a.clock.now()).envelope.to_bytes()
    await post_rotate(a, a.unlocked().keys.signing, await entry(a, b), statement)
    syncer = b.unlocked().trust.syncer
    assert new in syncer._tasks and key_of(a) not in syncer._tasks
    # The retired key still names A (alerts it signed are A's), as the same organisation.
    assert b.peer_names().get(new) == "A" and b.peer_names().get(key_of(a)) == "A"
    assert b.organisations()[key_of(a)] == b.organisations()[new] == new


async def test_rotation_onto_another_peers_key_is_refused(make_node: NodeFactory) -> None:
    a, b, c = await make_node("A"), await make_node("B"), await make_node("C")
    await pair(a, b)
    await pair(c, b)
    # B's entry for C sits under a key A also holds (a rotation proof needs the new
    # key, so the conflicting case is a key both know); A then tries to move onto it.
    squatted = nacl.signing.SigningKey.generate()
    await b.unlocked().store.peers.replace_key(key_of(c), bytes(squatted.verify_key))
    statement = sign_rotation(
        a.unlocked().keys.signing, squatted, a.clock.now()
    ).envelope.to_bytes()
    with pytest.raises(PeerRefused) as refused:
        await post_rotate(a, a.unlocked().keys.signing, await entry(a, b), statement)
    assert (refused.value.status, refused.value.code) == (409, "key_taken")
    assert await b.unlocked().store.peers.get(key_of(a)) is not None
