"""Indicator blinding (suites 1 and 2), after normalisation (``protocol.normalise``).

Rule: every indicator is normalised to one canonical text before it is blinded, so
that the same phone number written three ways gives one blinded value; anything that
cannot be normalised is an ``InvalidIndicator`` with a reason code and a sentence
saying why, never a silent mismatch. Blinding needs a ``NetworkKey``: the canonical
text is first hashed with BLAKE2b keyed by the network's secret, then Argon2id
(64 MiB) under a salt also derived from it. Whoever lacks the key (a leaked alert, a
captured relay, a stolen backup of a peer) cannot test one guess; a node that holds it
pays one Argon2id per guess. The suites differ only in Argon2id's passes: new alerts are
blinded with ``SUITE``; a check blinds under every suite its stored alerts carry (see
``SUITES``). Pure: the key is passed in, nothing is read from a clock or a file. No
plaintext indicator leaves this module except as the caller's own input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import nacl.pwhash.argon2id as argon2id

from .errors import InvalidIndicator
from .normalise import normalise

__all__ = [
    "BLINDED_BYTES", "BLIND_MEMLIMIT_BYTES", "BLIND_OPSLIMIT", "KEY_ID_BYTES", "MAX_KEY_EPOCH",
    "NETWORK_KEY_BYTES", "SUITE", "SUITES", "Kdf", "NetworkKey", "blind", "blind_normalised",
    "current_key", "key_id", "kind_salt", "normalise", "prehash",
]  # fmt: skip

BLINDED_BYTES = 32
# The blinding suites defined, by number: keyed BLAKE2b pre-hash, then Argon2id with
# (opslimit, memlimit). A change of algorithm or parameters is a new suite number.
# Suite 1 (3 passes) took 92-156 ms of user CPU a value on the AMD EPYC server of
# 2026-11 but 48 ms on the Intel Xeon (AVX-512) of 2026-12-02: 10^9 guesses there cost
# 1.5 CPU-years, under the floor of 2. Suite 2 (4 passes) took 68-80 ms there: 2.15-2.5
# CPU-years; twenty at once on two threads took 0.90-1.06 s (docs/threat-model.md).
SUITES: Mapping[int, tuple[int, int]] = MappingProxyType(
    {
        1: (3, 64 * 1024 * 1024),
        2: (4, 64 * 1024 * 1024),
    }
)
# The suite new alerts are blinded with.
SUITE = 2
NETWORK_KEY_BYTES = 32
KEY_ID_BYTES = 8
BLIND_OPSLIMIT, BLIND_MEMLIMIT_BYTES = SUITES[SUITE]
# The highest epoch a network key may have (a rotation adds one).
MAX_KEY_EPOCH = 2**32 - 1
# An Argon2id implementation: (size, password, salt, opslimit, memlimit) -> the hash,
# as libsodium's ``argon2id.kdf`` (the default) computes it.
Kdf = Callable[[int, bytes, bytes, int, int], bytes]
# BLAKE2b personalisations (exactly 16 bytes each; see docs/protocol.md).
_PERSON_KEY_ID = b"alertnode:key-id"
_PERSON_PREHASH = b"alertnode:ind-pw"
_PERSON_SALT = b"alertnode:ind-st"


def key_id(secret: bytes) -> bytes:
    """The public id of a network key: 8 bytes of an unkeyed BLAKE2b of the secret."""
    return hashlib.blake2b(secret, digest_size=KEY_ID_BYTES, person=_PERSON_KEY_ID).digest()


@dataclass(frozen=True, slots=True)
class NetworkKey:
    """One network blinding key: a 32-byte secret and its epoch (generation).

    The secret never appears in ``repr``, so a stray log line cannot carry it.
    """

    secret: bytes = field(repr=False)
    epoch: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes) or len(self.secret) != NETWORK_KEY_BYTES:
            raise InvalidIndicator("a network key is 32 bytes")
        if not isinstance(self.epoch, int) or not 0 <= self.epoch <= MAX_KEY_EPOCH:
            raise InvalidIndicator("a network key's epoch is 0 to 2^32-1")

    @property
    def key_id(self) -> bytes:
        return key_id(self.secret)


def current_key(keys: Iterable[NetworkKey]) -> NetworkKey:
    """The key new alerts are blinded with: the highest epoch, then the lowest key id.

    Every node holding the same set picks the same key, so two networks that pair
    converge on one key, and a rotation (epoch + 1) wins everywhere it spreads.
    Raises InvalidIndicator when ``keys`` is empty.
    """
    best: NetworkKey | None = None
    for key in keys:
        if best is None or (key.epoch, _neg(key.key_id)) > (best.epoch, _neg(best.key_id)):
            best = key
    if best is None:
        raise InvalidIndicator("this node holds no network blinding key")
    return best


def _neg(ident: bytes) -> bytes:
    # Lower ids sort higher: complement every byte.
    return bytes(255 - b for b in ident)


def kind_salt(kind: str, key: NetworkKey) -> bytes:
    """The Argon2id salt for ``kind`` under ``key`` (16 bytes, secret like the key)."""
    return hashlib.blake2b(
        kind.encode(), digest_size=16, key=key.secret, person=_PERSON_SALT
    ).digest()


def prehash(kind: str, normalised: str, key: NetworkKey) -> bytes:
    """BLAKE2b-256 keyed by the network secret over ``kind || 0x00 || canonical text``."""
    return hashlib.blake2b(
        kind.encode() + b"\x00" + normalised.encode(),
        digest_size=32,
        key=key.secret,
        person=_PERSON_PREHASH,
    ).digest()


def blind_normalised(
    kind: str, normalised: str, key: NetworkKey, suite: int = SUITE, kdf: Kdf | None = None
) -> bytes:
    """Argon2id of the keyed pre-hash under the keyed salt (32 bytes), with the
    parameters of ``suite``, computed by ``kdf`` (libsodium's when None; any other
    must give the same bytes). Raises InvalidIndicator for a suite not in SUITES."""
    params = SUITES.get(suite)
    if params is None:
        raise InvalidIndicator(f"blinding suite {suite} is not implemented here")
    opslimit, memlimit = params
    return (kdf or argon2id.kdf)(
        BLINDED_BYTES,
        prehash(kind, normalised, key),
        kind_salt(kind, key),
        opslimit,
        memlimit,
    )


def blind(
    kind: str, text: str, key: NetworkKey, default_region: str = "", suite: int = SUITE
) -> bytes:
    """Normalise and blind one indicator under ``key`` with ``suite``. Raises
    InvalidIndicator."""
    return blind_normalised(kind, normalise(kind, text, default_region), key, suite)
