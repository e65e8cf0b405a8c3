"""Handing the network blinding keys to a peer (``POST <prefix>/fed/v2/netkeys``).

Rule: the key set travels only as a network-key statement (``protocol.netkeys``:
signed by the sender, naming sender and recipient, sealed to the recipient), in a
signed federation request from one peer on the trust list to another, and the answer
carries the recipient's set back the same way. Receiving only ever adds keys, so a
replayed statement changes nothing. Nothing about a key but its id is ever logged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import nacl.signing

from protocol.indicators import NetworkKey
from protocol.netkeys import open_statement, seal_statement

from .trust import Peer

log = logging.getLogger(__name__)

# The route, under BASE_PATH.
PATH = "/netkeys"


class KeyRing(Protocol):
    """The node's network keys as the exchange sees them (node.blinding implements it)."""

    def keys(self) -> tuple[NetworkKey, ...]: ...
    def add(self, keys: Sequence[NetworkKey]) -> bool: ...


Now = Callable[[], int]


class KeyExchange:
    """Both ends of the handover: ``call`` a peer, ``answer`` a peer's call.

    ``on_learned(source)`` runs after keys new to this node arrived from ``source``,
    so the node passes them on to its other peers (gossip on the trust edges).
    """

    def __init__(
        self,
        key: nacl.signing.SigningKey,
        ring: KeyRing,
        now: Now,
        on_learned: Callable[[bytes], Awaitable[None]] | None = None,
    ) -> None:
        self.key = key
        self._ring = ring
        self._now = now
        self._on_learned = on_learned

    async def _take(self, peer: Peer, data: bytes) -> None:
        keys = open_statement(data, self.key, peer.key, self._now())
        if self._ring.add(keys):
            log.info("learned network key(s) from peer %s", peer.short)
            if self._on_learned is not None:
                await self._on_learned(peer.key)

    async def answer(self, peer: Peer, body: bytes) -> bytes:
        """Take the caller's keys, and answer with ours sealed to the caller.

        Raises a ProtocolError for a statement that does not open or check."""
        await self._take(peer, body)
        return seal_statement(self.key, peer.key, self._ring.keys(), self._now())

    async def call(self, post: Callable[[bytes], Awaitable[bytes]], peer: Peer) -> None:
        """Send our keys to ``peer`` through ``post`` and take the ones it answers with.

        Raises what ``post`` raises, or a ProtocolError for a bad answer."""
        statement = seal_statement(self.key, peer.key, self._ring.keys(), self._now())
        await self._take(peer, await post(statement))
