"""The network-key statement: how a node hands its network blinding keys to a peer
(docs/protocol.md section 6b). Pure: the time is passed in; the only randomness is the
sealed box's own one-time key.

Rule: a key set travels only inside a statement that names the purpose, the sender and
the recipient, is signed by the sender's Ed25519 key, and is sealed (libsodium
``crypto_box_seal``) to the recipient's key converted to X25519. Anyone but the
recipient sees only ciphertext, and a statement its recipient opened cannot be passed
on to a third node as the sender's (it names its recipient, under the signature).

    plain     = canonical msgpack {"created": int, "from": bin32, "keys": [[epoch,
                secret], ...], "to": bin32, "v": 2}
    inner     = Ed25519-Sign(from, PURPOSE || plain) || plain      (``sign_statement``)
    statement = crypto_box_seal(inner, X25519(to))                 (``seal_statement``)

``sign_statement`` is deterministic (Ed25519 is), so ``inner`` has golden vectors;
the seal is not, and is checked by opening it.
"""

from __future__ import annotations

from collections.abc import Sequence

import nacl.exceptions
import nacl.public
import nacl.signing

from .encoding import pack, unpack
from .errors import BadSignature, InvalidField, LimitExceeded, MalformedObject
from .indicators import MAX_KEY_EPOCH, NETWORK_KEY_BYTES, NetworkKey
from .limits import MAX_CLOCK_SKEW_S, Limits
from .signing import KEY_BYTES, SIG_BYTES, TAG_PREFIX

VERSION = 2
# "alertnode:v2:network-keys" and a zero byte (it predates the "<kind>:" tag style).
PURPOSE = TAG_PREFIX + b"network-keys\x00"
# A statement carries at most this many keys (a node keeps at most as many).
MAX_KEYS_PER_STATEMENT = 64
# 64 keys of 32 bytes with their epochs, two node keys, framing, signature and box:
# the sealed statement, the request body and the answer body are each at most this.
MAX_STATEMENT_BYTES = 4 * 1024
_FIELDS = frozenset({"v", "from", "to", "created", "keys"})
_LIMITS = Limits(
    envelope_bytes=MAX_STATEMENT_BYTES,
    body_bytes=MAX_STATEMENT_BYTES,
    str_bytes=16,
    bin_bytes=32,
    array_len=MAX_KEYS_PER_STATEMENT,
    map_len=8,
    depth=3,
)


def x25519_public(ed25519: bytes) -> nacl.public.PublicKey:
    """The X25519 key a statement to the node with Ed25519 key ``ed25519`` is sealed to
    (libsodium ``crypto_sign_ed25519_pk_to_curve25519``)."""
    return nacl.signing.VerifyKey(ed25519).to_curve25519_public_key()


def statement_plain(sender: bytes, recipient: bytes, keys: Sequence[NetworkKey], now: int) -> bytes:
    """The canonical msgpack map a statement signs. Raises InvalidField when there are
    more keys than a statement carries."""
    if len(keys) > MAX_KEYS_PER_STATEMENT:
        raise InvalidField("keys", f"a statement carries at most {MAX_KEYS_PER_STATEMENT}")
    return pack(
        {
            "v": VERSION,
            "from": sender,
            "to": recipient,
            "created": now,
            "keys": tuple((k.epoch, k.secret) for k in keys),
        }
    )


def sign_statement(
    sender: nacl.signing.SigningKey, recipient: bytes, keys: Sequence[NetworkKey], now: int
) -> bytes:
    """``sig || plain``: what is sealed. Raises InvalidField (too many keys)."""
    plain = statement_plain(bytes(sender.verify_key), recipient, keys, now)
    return sender.sign(PURPOSE + plain).signature + plain


def seal_statement(
    sender: nacl.signing.SigningKey, recipient: bytes, keys: Sequence[NetworkKey], now: int
) -> bytes:
    """The sealed statement handing ``keys`` from ``sender`` to ``recipient``.

    Raises InvalidField when there are more keys than a statement carries."""
    inner = sign_statement(sender, recipient, keys, now)
    return bytes(nacl.public.SealedBox(x25519_public(recipient)).encrypt(inner))


def open_statement(
    data: bytes, recipient: nacl.signing.SigningKey, sender: bytes, now: int
) -> tuple[NetworkKey, ...]:
    """The keys in a statement from ``sender`` sealed to ``recipient``, checked at ``now``.

    Raises LimitExceeded, MalformedObject (does not open, wrong shape), BadSignature
    (not signed by ``sender``) or InvalidField."""
    if len(data) > MAX_STATEMENT_BYTES:
        raise LimitExceeded(f"a key statement is at most {MAX_STATEMENT_BYTES} bytes")
    box = nacl.public.SealedBox(recipient.to_curve25519_private_key())
    try:
        inner = box.decrypt(data)
    except (nacl.exceptions.CryptoError, ValueError):
        raise MalformedObject("the key statement does not open") from None
    return read_statement(inner, bytes(recipient.verify_key), sender, now)


def read_statement(
    inner: bytes, recipient: bytes, sender: bytes, now: int
) -> tuple[NetworkKey, ...]:
    """The keys in an opened statement (``sig || plain``). Raises as ``open_statement``."""
    sig, plain = inner[:SIG_BYTES], inner[SIG_BYTES:]
    if len(sender) != KEY_BYTES:
        raise BadSignature("the key statement is not signed by the sending node")
    try:
        nacl.signing.VerifyKey(sender).verify(PURPOSE + plain, sig)
    except (nacl.exceptions.BadSignatureError, ValueError):
        raise BadSignature("the key statement is not signed by the sending node") from None
    value = unpack(plain, _LIMITS, max_bytes=MAX_STATEMENT_BYTES)
    if not isinstance(value, dict) or set(value) != _FIELDS:
        raise MalformedObject("a key statement is a map of v, from, to, created, keys")
    if value["v"] != VERSION:
        raise InvalidField("v", f"must be {VERSION}")
    if value["from"] != sender or value["to"] != recipient:
        raise InvalidField("to", "the statement is not from the caller to this node")
    created = value["created"]
    if type(created) is not int or not 0 <= created <= now + MAX_CLOCK_SKEW_S:
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
