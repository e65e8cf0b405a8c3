"""The network-key statement (docs/protocol.md section 6b): who can open it, who it
names, how many keys it carries, and its golden vector (tests/vectors/netkeys.json)."""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

import nacl.public
import nacl.signing
import pytest

from protocol.encoding import pack
from protocol.errors import BadSignature, InvalidField, LimitExceeded, MalformedObject
from protocol.indicators import NetworkKey
from protocol.netkeys import (
    MAX_KEYS_PER_STATEMENT,
    MAX_STATEMENT_BYTES,
    PURPOSE,
    open_statement,
    read_statement,
    seal_statement,
    sign_statement,
)

VECTOR: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "netkeys.json").read_text(encoding="utf-8")
)


def test_a_statement_opens_only_for_its_recipient_from_its_sender() -> None:
    a, b, c = (nacl.signing.SigningKey.generate() for _ in range(3))
    keys = (NetworkKey(secrets.token_bytes(32)), NetworkKey(secrets.token_bytes(32), 4))
    sealed = seal_statement(a, bytes(b.verify_key), keys, 1000)
    assert open_statement(sealed, b, bytes(a.verify_key), 1000) == keys
    for key in keys:
        assert key.secret not in sealed
    with pytest.raises(MalformedObject):  # anyone else sees ciphertext
        open_statement(sealed, c, bytes(a.verify_key), 1000)
    with pytest.raises(BadSignature):  # not signed by who the request says
        open_statement(sealed, b, bytes(c.verify_key), 1000)


def test_a_recipient_cannot_pass_a_statement_on_as_the_senders() -> None:
    a, b, c = (nacl.signing.SigningKey.generate() for _ in range(3))
    sealed = seal_statement(a, bytes(b.verify_key), [NetworkKey(bytes(32))], 1000)
    inner = nacl.public.SealedBox(b.to_curve25519_private_key()).decrypt(sealed)
    resealed = nacl.public.SealedBox(c.verify_key.to_curve25519_public_key()).encrypt(inner)
    with pytest.raises(InvalidField, match="not from the caller to this node"):
        open_statement(resealed, c, bytes(a.verify_key), 1000)


def test_a_statement_carries_a_bounded_number_of_keys() -> None:
    a, b = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()
    many = [NetworkKey(secrets.token_bytes(32)) for _ in range(MAX_KEYS_PER_STATEMENT + 1)]
    with pytest.raises(InvalidField):
        seal_statement(a, bytes(b.verify_key), many, 1000)
    full = seal_statement(a, bytes(b.verify_key), many[:-1], 1000)
    assert len(full) <= MAX_STATEMENT_BYTES
    assert len(open_statement(full, b, bytes(a.verify_key), 1000)) == MAX_KEYS_PER_STATEMENT


def test_an_oversized_statement_is_refused_before_it_is_opened() -> None:
    b = nacl.signing.SigningKey.generate()
    with pytest.raises(LimitExceeded):
        open_statement(bytes(MAX_STATEMENT_BYTES + 1), b, bytes(32), 1000)


def test_a_statement_from_the_future_is_refused() -> None:
    a, b = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()
    sealed = seal_statement(a, bytes(b.verify_key), [], 2000)
    assert open_statement(sealed, b, bytes(a.verify_key), 2000 - 300) == ()
    with pytest.raises(InvalidField) as info:
        open_statement(sealed, b, bytes(a.verify_key), 2000 - 301)
    assert info.value.field == "created"


def test_golden_statement() -> None:
    """The signed inner statement, recomputed from section 6b by hand; the sealed box
    is randomised, so the vector's seal is checked by opening it."""
    sender = nacl.signing.SigningKey(bytes.fromhex(VECTOR["sender_seed_hex"]))
    recipient = nacl.signing.SigningKey(bytes.fromhex(VECTOR["recipient_seed_hex"]))
    to, now = bytes(recipient.verify_key), VECTOR["created"]
    keys = tuple(NetworkKey(bytes.fromhex(k["secret_hex"]), k["epoch"]) for k in VECTOR["keys"])
    plain = pack(
        {
            "created": now,
            "from": bytes(sender.verify_key),
            "keys": tuple((k.epoch, k.secret) for k in keys),
            "to": to,
            "v": 2,
        }
    )
    assert plain.hex() == VECTOR["plain_hex"]
    assert PURPOSE == VECTOR["purpose"].encode() == b"alertnode:v2:network-keys\x00"
    inner = sender.sign(PURPOSE + plain).signature + plain
    assert inner.hex() == VECTOR["inner_hex"] == sign_statement(sender, to, keys, now).hex()
    assert read_statement(inner, to, bytes(sender.verify_key), now) == keys
    sealed = bytes.fromhex(VECTOR["sealed_hex"])
    assert nacl.public.SealedBox(recipient.to_curve25519_private_key()).decrypt(sealed) == inner
    assert open_statement(sealed, recipient, bytes(sender.verify_key), now) == keys
    # crypto_box_seal spelled out: epk || crypto_box(inner, BLAKE2b-192(epk || pk)).
    esk = nacl.public.PrivateKey(bytes.fromhex(VECTOR["ephemeral_secret_hex"]))
    pk = recipient.verify_key.to_curve25519_public_key()
    epk = bytes(esk.public_key)
    nonce = hashlib.blake2b(epk + bytes(pk), digest_size=24).digest()
    assert sealed == epk + nacl.public.Box(esk, pk).encrypt(inner, nonce).ciphertext
