"""Rotating this node's signing key: tell every peer, then switch.

Rule: the rotation statement (protocol.rotation, signed by the old key and proven by
the new one) is sent to every peer with a request signed by the old key, before the
node switches; the old key is kept, sealed, to retract alerts it signed. Peers that
could not be told keep refusing the node until their admin adds its new card.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import nacl.signing

from federation.clock import Clock
from federation.errors import FederationError
from federation.https import HttpsTransport
from federation.trust import Peer
from protocol.rotation import sign_rotation

from ..config import Config

log = logging.getLogger(__name__)

MAX_ROTATE_RESPONSE_BYTES = 1024


async def announce(
    old: nacl.signing.SigningKey,
    new: nacl.signing.SigningKey,
    peers: Sequence[Peer],
    clock: Clock,
    config: Config,
) -> tuple[list[str], list[dict[str, str]]]:
    """Send the rotation statement to every peer, signed by ``old``: (told, missed)."""
    statement = sign_rotation(old, new, clock.now()).envelope.to_bytes()
    told: list[str] = []
    missed: list[dict[str, str]] = []
    transport = HttpsTransport(
        old, clock, allow_http=config.allow_http, socks_proxy=config.socks_proxy or None
    )
    try:
        for peer in peers:
            try:
                await transport.post(peer, "/rotate", statement, MAX_ROTATE_RESPONSE_BYTES)
                told.append(peer.name)
            except FederationError as exc:
                missed.append({"name": peer.name, "error": str(exc)})
    finally:
        await transport.close()
    return told, missed
