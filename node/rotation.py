"""Rotating this node's signing key: tell every peer, then switch.

Rule: the rotation statement (protocol.rotation, signed by the old key and proven by
the new one) is sent to every peer with a request signed by the old key, before the
node switches; the old key is kept, sealed, to retract alerts it signed. Peers that
could not be told keep refusing the node until their admin adds its new card.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

import nacl.signing

from federation.errors import FederationError
from federation.https import HttpsTransport
from protocol.rotation import sign_rotation

from . import config as config_mod
from . import keystore

if TYPE_CHECKING:
    from .app import Node

log = logging.getLogger(__name__)

MAX_ROTATE_RESPONSE_BYTES = 1024


async def rotate_key(node: Node) -> dict[str, Any]:
    """Rotate ``node``'s signing key. Raises Locked (or UsageError)."""
    store, _, _ = node.require()
    node.require_peering()
    old: nacl.signing.SigningKey = node.signing_key
    new = nacl.signing.SigningKey.generate()
    statement = sign_rotation(old, new, node.clock.now()).envelope.to_bytes()
    told, missed = [], []
    transport = HttpsTransport(
        old,
        node.clock,
        allow_http=node.config.allow_http,
        socks_proxy=node.config.socks_proxy or None,
    )
    try:
        for peer in await store.peers.list():
            try:
                await transport.post(peer, "/rotate", statement, MAX_ROTATE_RESPONSE_BYTES)
                told.append(peer.name)
            except FederationError as exc:
                missed.append({"name": peer.name, "error": str(exc)})
    finally:
        await transport.close()
    assert node.data_key is not None
    keystore.rotate_signing_key(node.data_dir, node.data_key, new)
    node.config = dataclasses.replace(node.config, key=bytes(new.verify_key).hex())
    config_mod.save(node.data_dir, node.config)
    await node.switch_signing_key(new, old)
    log.info("rotated the node key; %d peer(s) told, %d not", len(told), len(missed))
    card = node.require_peering().card()
    return {"key": node.config.key, "told": told, "missed": missed, "card": card}
