"""Handing the network blinding keys to a peer (``POST /fed/v1/netkeys``).

Rule: a key set travels only inside a statement that names the purpose, the sender
and the recipient, is signed by the sender's Ed25519 key, and is sealed (libsodium
sealed box) to the recipient's key converted to X25519; it is carried in a signed
federation request from one peer on the trust list to another, and the answer
carries the recipient's set back the same way. Anyone else sees only ciphertext, and
a statement opened by its recipient cannot be passed on as the sender's to a third
node. Receiving only ever adds keys, so a replayed statement changes nothing. Nothing
about a key but its id is ever logged.

Statement (docs/protocol.md, "Network blinding keys"):
``SealedBox(X25519(to)).encrypt(sig || plain)`` where ``plain`` is canonical msgpack
``{"created", "from", "keys": [[epoch, secret], ...], "to", "v": 2}`` and
``sig = Ed25519(from, PURPOSE || plain)``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import nacl.exceptions
import nacl.public
import nacl.signing

from protocol.encoding import pack, unpack
from protocol.errors import BadSignature, InvalidField, MalformedObject
from protocol.indicators import MAX_KEY_EPOCH, NETWORK_KEY_BYTES, NetworkKey
from protocol.limits import MAX_CLOCK_SKEW_S, Limits

from .trust import Peer

log = logging.getLogger(__name__)

PATH = "/netkeys"
VERSION = 2
PURPOSE = b"alertnode:v2:network-keys\x00"
# A statement carries at most this many keys (a node keeps at most as many).
MAX_KEYS_PER_STATEMENT = 64
SIG_BYTES = 64
# 64 keys of 32 bytes with their epochs, two node keys, framing, signature and box.
MAX_STATEMENT_BYTES = 4 * 1024
_LIMITS = Limits(
    envelope_bytes=MAX_STATEMENT_BYTES,
    body_bytes=MAX_STATEMENT_BYTES,
    str_bytes=16,
    bin_bytes=32,
    array_len=MAX_KEYS_PER_STATEMENT,
    map_len=8,
    depth=3,
)


def _x25519_public(ed25519: bytes) -> nacl.public.PublicKey:
    return nacl.signing.VerifyKey(ed25519).to_curve25519_public_key()


def seal_statement(
    sender: nacl.signing.SigningKey, recipient: bytes, keys: Sequence[NetworkKey], now: int
) -> bytes:
    """The sealed statement handing ``keys`` from ``sender`` to ``recipient``.

    Raises InvalidField when there are more keys than a statement carries."""
    if len(keys) > MAX_KEYS_PER_STATEMENT:
        raise InvalidField("keys", f"a statement carries at most {MAX_KEYS_PER_STATEMENT}")
    plain = pack(
        {
            "v": VERSION,
            "from": bytes(sender.verify_key),
            "to": recipient,
            "created": now,
            "keys": tuple((k.epoch, k.secret) for k in keys),
        }
    )
    sig = sender.sign(PURPOSE + plain).signature
    return bytes(nacl.public.SealedBox(_x25519_public(recipient)).encrypt(sig + plain))


def open_statement(
    data: bytes, recipient: nacl.signing.SigningKey, sender: bytes, now: int
) -> tuple[NetworkKey, ...]:
    """The keys in a statement from ``sender`` sealed to ``recipient``.

    Raises LimitExceeded, MalformedObject, BadSignature or InvalidField."""
    if len(data) > MAX_STATEMENT_BYTES:
        raise MalformedObject("the key statement is too large")
    box = nacl.public.SealedBox(recipient.to_curve25519_private_key())
    try:
        inner = box.decrypt(data)
    except (nacl.exceptions.CryptoError, ValueError):
        raise MalformedObject("the key statement does not open") from None
    sig, plain = inner[:SIG_BYTES], inner[SIG_BYTES:]
    try:
        nacl.signing.VerifyKey(sender).verify(PURPOSE + plain, sig)
    except (nacl.exceptions.BadSignatureError, ValueError):
        raise BadSignature("the key statement is not signed by the sending node") from None
    value = unpack(plain, _LIMITS, max_bytes=MAX_STATEMENT_BYTES)
    if not isinstance(value, dict) or set(value) != {"v", "from", "to", "created", "keys"}:
        raise MalformedObject("a key statement is a map of v, from, to, created, keys")
    if value["v"] != VERSION:
        raise InvalidField("v", f"must be {VERSION}")
    if value["from"] != sender or value["to"] != bytes(recipient.verify_key):
        raise InvalidField("to", "the statement is not from the caller to this node")
    created = value["created"]
    if type(created) is not int or created > now + MAX_CLOCK_SKEW_S:
        raise InvalidField("created", "is not a time in the past")
    items = value["keys"]
    if not isinstance(items, tuple):
        raise InvalidField("keys", "must be a list")
    return tuple(_read_key(item) for item in items)


def _read_key(item: object) -> NetworkKey:
    if not isinstance(item, tuple) or len(item) != 2:
        raise InvalidField("keys", "each is [epoch, secret]")
    epoch, secret = item
    if type(epoch) is not int or not 0 <= epoch <= MAX_KEY_EPOCH:
        raise InvalidField("keys", "an epoch is an integer 0 to 2^32-1")
    if not isinstance(secret, bytes) or len(secret) != NETWORK_KEY_BYTES:
        raise InvalidField("keys", f"a secret is {NETWORK_KEY_BYTES} bytes")
    return NetworkKey(secret, epoch)


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
