"""The golden vectors of the objects two admins or two nodes exchange outside the feed:
node cards and the key check (``cards.json``), commit-then-reveal pairing
(``pairing.json``), key rotation statements (``rotation.json``) and TLS pin statements
(``pins.json``). Called by ``make_vectors.main``; see its docstring for when to run it.

Every input a second implementation needs is written into the JSON: seeds, times,
names, URLs, pins, versions, capabilities, extensions and nonces. Ed25519 is
deterministic, so fixed inputs give fixed bytes.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import nacl.signing

from federation.discovery import card_txt, commit_txt
from protocol.card import (
    CARD_TEXT_PREFIX,
    DEFAULT_CARD_VALIDITY_S,
    MAX_CARD_VALIDITY_S,
    SAS_PURPOSE,
    NodeCard,
    make_card,
    short_auth_string,
    sign_card,
)
from protocol.encoding import pack
from protocol.move import sign_move
from protocol.pairing import CODE_PURPOSE, COMMIT_PURPOSE, commitment, pairing_code
from protocol.pins import sign_pins
from protocol.rotation import PROOF_PURPOSE, sign_rotation
from protocol.signing import Envelope, Kind

# The same fixed inputs as the other vector files (make_vectors.py).
SEED_A = bytes(range(32))
SEED_B = bytes(range(32, 64))
CREATED = 1_735_693_200  # 2025-01-01T01:00:00Z
NOW = CREATED + 1800


def onion_host(pubkey: bytes) -> str:
    """The v3 onion host name of a 32-byte service key (checksum and version byte)."""
    checksum = hashlib.sha3_256(b".onion checksum" + pubkey + b"\x03").digest()[:2]
    return base64.b32encode(pubkey + checksum + b"\x03").decode().lower() + ".onion"


def signed_parts(envelope: Envelope) -> dict[str, str]:
    return {
        "body_hex": envelope.body.hex(),
        "envelope_hex": envelope.to_bytes().hex(),
        "id_hex": envelope.id.hex(),
        "sig_hex": envelope.sig.hex(),
    }


def card_input(card: NodeCard, seed: bytes) -> dict[str, Any]:
    """A card's every field as JSON; ``ext`` values as the hex of their canonical msgpack."""
    return {
        "seed_hex": seed.hex(),
        "v": 2,
        "name": card.name,
        "key_hex": card.key.hex(),
        "urls": list(card.urls),
        "pins_hex": [pin.hex() for pin in card.pins],
        "created": card.created,
        "expires": card.expires,
        "versions": list(card.versions),
        "caps": list(card.caps),
        "ext": {key: raw.hex() for key, raw in card.ext},
        "must_understand": list(card.must_understand),
    }


def card_vector(name: str, card: NodeCard, seed: bytes) -> dict[str, Any]:
    verified = sign_card(card, nacl.signing.SigningKey(seed), NOW)
    return {
        "name": name,
        "input": card_input(verified.body, seed),
        **signed_parts(verified.envelope),
        "text": verified.to_text(),
    }


def card_vectors() -> dict[str, Any]:
    key_a, key_b = nacl.signing.SigningKey(SEED_A), nacl.signing.SigningKey(SEED_B)
    # As `alertnode card` makes it: created is now coarsened to the hour, valid for
    # the default 365 days, this implementation's versions and capabilities.
    plain = make_card(
        key_a,
        "Ugly Mugs Test",
        ("https://node.example.org:8443",),
        (hashlib.sha256(b"a DER certificate").digest(),),
        NOW,
    )
    assert plain.body.expires == plain.body.created + DEFAULT_CARD_VALIDITY_S
    # Every field away from its default: a non-ASCII name, a URL with a path prefix
    # and an onion URL, two pins (sorted bytewise), two versions, a namespaced
    # capability sorted among the plain ones by bytes, an extension, the longest
    # validity.
    full = NodeCard(
        name="Maison d'accueil — Lyon",
        key=bytes(key_b.verify_key),
        urls=(
            "https://alerts.example.org/alertnode/",
            "http://" + onion_host(hashlib.sha256(b"onion service key").digest()),
        ),
        pins=tuple(sorted(hashlib.sha256(s).digest() for s in (b"spki one", b"spki two"))),
        created=CREATED,
        expires=CREATED + MAX_CARD_VALIDITY_S,
        versions=(2, 3),
        caps=("feed", "ids", "org.example:colour", "pins", "poke", "rotate"),
        ext=(("org.example:colour", pack("red")),),
        must_understand=(),
    )
    cards = [card_vector("plain", plain.body, SEED_A), card_vector("full", full, SEED_B)]
    low, high = sorted((bytes(key_a.verify_key), bytes(key_b.verify_key)))
    digest = hashlib.sha256(SAS_PURPOSE + low + high).digest()
    return {
        "comment": (
            "Node cards (docs/protocol.md section 9): each card's fields as input (ext"
            " values as the hex of their canonical msgpack), the signer's Ed25519 seed,"
            " the body, envelope, id, signature and the one-line text; checked at now."
            " key_check: the six digits `alertnode peer add` prints for two keys."
        ),
        "now": NOW,
        "tag": Kind.CARD.tag.decode(),
        "text_prefix": CARD_TEXT_PREFIX,
        "cards": cards,
        "key_check": {
            "purpose": SAS_PURPOSE.decode(),
            "a_seed_hex": SEED_A.hex(),
            "b_seed_hex": SEED_B.hex(),
            "a_key_hex": bytes(key_a.verify_key).hex(),
            "b_key_hex": bytes(key_b.verify_key).hex(),
            "digest_hex": digest.hex(),
            "code": short_auth_string(bytes(key_a.verify_key), bytes(key_b.verify_key)),
        },
    }


PAIRING_URL = "https://n.example.org"
PAIRING_PIN = hashlib.sha256(b"spki").digest()
PAIRING_NONCES = {"a": bytes(range(0x64, 0x84)), "b": bytes(range(0x96, 0xB6))}


def pairing_vectors() -> dict[str, Any]:
    sides: dict[str, dict[str, Any]] = {}
    envelopes: dict[str, bytes] = {}
    for name, seed in (("a", SEED_A), ("b", SEED_B)):
        key = nacl.signing.SigningKey(seed)
        verified = make_card(key, name.upper(), (PAIRING_URL,), (PAIRING_PIN,), NOW)
        envelope = verified.envelope.to_bytes()
        nonce = PAIRING_NONCES[name]
        commit = commitment(envelope, nonce)
        envelopes[name] = envelope
        sides[name] = {
            "card": card_input(verified.body, seed),
            "card_envelope_hex": envelope.hex(),
            "card_text": verified.to_text(),
            "nonce_hex": nonce.hex(),
            "commitment_hex": commit.hex(),
            "txt_commit": commit_txt(commit),
            "txt_reveal": card_txt(verified.to_text(), commit, nonce),
        }
    code = pairing_code(envelopes["a"], PAIRING_NONCES["a"], envelopes["b"], PAIRING_NONCES["b"])
    key_a, key_b = (bytes.fromhex(sides[s]["card"]["key_hex"]) for s in ("a", "b"))
    lo, hi = ("a", "b") if key_a < key_b else ("b", "a")
    digest = hashlib.sha256(
        CODE_PURPOSE
        + bytes.fromhex(sides[lo]["card"]["key_hex"])
        + bytes.fromhex(sides[hi]["card"]["key_hex"])
        + hashlib.sha256(envelopes[lo]).digest()
        + hashlib.sha256(envelopes[hi]).digest()
        + PAIRING_NONCES[lo]
        + PAIRING_NONCES[hi]
    ).digest()
    return {
        "comment": (
            "Commit-then-reveal pairing (docs/protocol.md, 'Pairing'): two sides, each"
            " with its card (every field, made at now), the card envelope the hashes"
            " cover, its nonce, its commitment and its two TXT records (commit, then"
            " reveal); lo names the side whose node key sorts first; code_digest_hex is"
            " the SHA-256 the six digits come from."
        ),
        "now": NOW,
        "commit_purpose": COMMIT_PURPOSE.decode(),
        "code_purpose": CODE_PURPOSE.decode(),
        "sides": sides,
        "lo": lo,
        "code_digest_hex": digest.hex(),
        "code": code,
    }


def rotation_vectors() -> dict[str, Any]:
    old, new = nacl.signing.SigningKey(SEED_A), nacl.signing.SigningKey(SEED_B)
    made = sign_rotation(old, new, NOW)
    body = made.body
    return {
        "comment": (
            "A key rotation statement (docs/protocol.md section 11) moving the node of"
            " old_seed_hex to the key of new_seed_hex, signed at now (created is now"
            " coarsened to the hour): core_hex is what the new key signs after"
            " proof_purpose, body_hex what the old key signs after the rotation tag."
        ),
        "old_seed_hex": SEED_A.hex(),
        "new_seed_hex": SEED_B.hex(),
        "old_hex": body.old.hex(),
        "new_hex": body.new.hex(),
        "now": NOW,
        "created": body.created,
        "tag": Kind.ROTATION.tag.decode(),
        "proof_purpose": PROOF_PURPOSE.decode(),
        "core_hex": body.core_bytes().hex(),
        "proof_hex": body.proof.hex(),
        **signed_parts(made.envelope),
    }


def pins_vectors() -> dict[str, Any]:
    key = nacl.signing.SigningKey(SEED_A)
    pins = (hashlib.sha256(b"current spki").digest(), hashlib.sha256(b"next spki").digest())
    made = sign_pins(key, pins, NOW)
    return {
        "comment": (
            "A TLS pin statement (docs/protocol.md, 'TLS key rollover'): the node of"
            " seed_hex accepts exactly pins_hex (sorted bytewise) from created on;"
            " created is exact seconds (not coarsened)."
        ),
        "seed_hex": SEED_A.hex(),
        "node_hex": made.body.node.hex(),
        "pins_hex": [pin.hex() for pin in made.body.pins],
        "created": made.body.created,
        "tag": Kind.PINS.tag.decode(),
        **signed_parts(made.envelope),
    }


def move_vectors() -> dict[str, Any]:
    key = nacl.signing.SigningKey(SEED_A)
    urls = ("https://new-host.example.org:8443", "https://backup.example.net/alerts")
    made = sign_move(key, urls, NOW)
    return {
        "comment": (
            "A move statement (docs/protocol.md, 'Moving to new addresses'): the node of"
            " seed_hex is reached at urls from created on; created is exact seconds (not"
            " coarsened)."
        ),
        "seed_hex": SEED_A.hex(),
        "node_hex": made.body.node.hex(),
        "urls": list(made.body.urls),
        "created": made.body.created,
        "tag": Kind.MOVE.tag.decode(),
        **signed_parts(made.envelope),
    }
