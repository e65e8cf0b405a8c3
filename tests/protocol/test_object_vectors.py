"""Golden vectors of cards, the key check, pairing, rotation and pin statements
(tests/vectors/cards.json, pairing.json, rotation.json, pins.json, move.json).

Each value is recomputed twice: from docs/protocol.md's formulas with hashlib, nacl and
canonical msgpack only, and through the implementation's own functions; both must give
the committed bytes. The JSON holds every input (seeds, times, fields, nonces), so an
implementation in another language can run the same checks.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from federation.discovery import card_txt, commit_txt, read_txt
from protocol.card import (
    CARD_TEXT_PREFIX,
    SAS_PURPOSE,
    NodeCard,
    make_card,
    parse_card_text,
    short_auth_string,
    sign_card,
    verify_card,
)
from protocol.encoding import pack, unpack
from protocol.move import sign_move, verify_move
from protocol.pairing import (
    CODE_PURPOSE,
    COMMIT_PURPOSE,
    PairingSession,
    commitment,
    pairing_code,
)
from protocol.pins import sign_pins, verify_pins
from protocol.rotation import PROOF_PURPOSE, sign_rotation, verify_rotation
from protocol.signing import Kind

VECTORS = Path(__file__).parents[1] / "vectors"


def load(name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return value


CARDS = load("cards.json")
PAIRING = load("pairing.json")
ROTATION = load("rotation.json")
PINS = load("pins.json")
MOVE = load("move.json")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def six_digits(digest: bytes) -> str:
    """docs/protocol.md: the first 8 bytes big-endian, mod 10**6, shown "ddd ddd"."""
    digits = f"{int.from_bytes(digest[:8], 'big') % 10**6:06d}"
    return f"{digits[:3]} {digits[3:]}"


def envelope_of(kind: str, seed_hex: str, body: bytes) -> tuple[bytes, bytes, bytes]:
    """(signature, envelope, id) of ``body`` as section 1 defines them, by hand."""
    key = nacl.signing.SigningKey(bytes.fromhex(seed_hex))
    tag = f"alertnode:v2:{kind}:".encode()
    sig = key.sign(tag + body).signature
    envelope = pack((kind, bytes(key.verify_key), body, sig))
    return sig, envelope, hashlib.sha256(tag + body).digest()


def check_envelope(kind: str, seed_hex: str, body: bytes, vector: dict[str, Any]) -> None:
    sig, envelope, id_ = envelope_of(kind, seed_hex, body)
    assert body.hex() == vector["body_hex"]
    assert sig.hex() == vector["sig_hex"]
    assert envelope.hex() == vector["envelope_hex"]
    assert id_.hex() == vector["id_hex"]


# --- cards and the key check -------------------------------------------------------


def card_map(card: dict[str, Any]) -> dict[str, Any]:
    """The card body map of section 9, from the vector's input."""
    return {
        "v": card["v"],
        "name": card["name"],
        "key": bytes.fromhex(card["key_hex"]),
        "urls": tuple(card["urls"]),
        "pins": tuple(bytes.fromhex(p) for p in card["pins_hex"]),
        "created": card["created"],
        "expires": card["expires"],
        "versions": tuple(card["versions"]),
        "caps": tuple(card["caps"]),
        "ext": {key: unpack(bytes.fromhex(raw)) for key, raw in card["ext"].items()},
        "must_understand": tuple(card["must_understand"]),
    }


def node_card(card: dict[str, Any]) -> NodeCard:
    return NodeCard(
        name=card["name"],
        key=bytes.fromhex(card["key_hex"]),
        urls=tuple(card["urls"]),
        pins=tuple(bytes.fromhex(p) for p in card["pins_hex"]),
        created=card["created"],
        expires=card["expires"],
        versions=tuple(card["versions"]),
        caps=tuple(card["caps"]),
        ext=tuple((key, bytes.fromhex(raw)) for key, raw in sorted(card["ext"].items())),
        must_understand=tuple(card["must_understand"]),
    )


@pytest.mark.parametrize("vector", CARDS["cards"], ids=lambda v: v["name"])
def test_card_vector_from_the_spec(vector: dict[str, Any]) -> None:
    card = vector["input"]
    key = nacl.signing.SigningKey(bytes.fromhex(card["seed_hex"]))
    assert bytes(key.verify_key).hex() == card["key_hex"]
    assert card["created"] % 3600 == 0
    assert CARDS["tag"] == "alertnode:v2:card:" and CARDS["text_prefix"] == "alertnode-card:2:"
    check_envelope("card", card["seed_hex"], pack(card_map(card)), vector)
    envelope = bytes.fromhex(vector["envelope_hex"])
    assert vector["text"] == CARDS["text_prefix"] + b64url(envelope)


@pytest.mark.parametrize("vector", CARDS["cards"], ids=lambda v: v["name"])
def test_card_vector_through_the_implementation(vector: dict[str, Any]) -> None:
    card = vector["input"]
    key = nacl.signing.SigningKey(bytes.fromhex(card["seed_hex"]))
    now = CARDS["now"]
    made = sign_card(node_card(card), key, now)
    assert made.envelope.to_bytes().hex() == vector["envelope_hex"]
    assert made.id.hex() == vector["id_hex"]
    assert made.to_text() == vector["text"] and CARDS["text_prefix"] == CARD_TEXT_PREFIX
    parsed = parse_card_text(vector["text"], now)
    assert parsed.body == node_card(card)
    assert verify_card(bytes.fromhex(vector["envelope_hex"]), now).body == parsed.body


def test_the_plain_card_is_what_alertnode_card_makes() -> None:
    (plain,) = (v for v in CARDS["cards"] if v["name"] == "plain")
    card = plain["input"]
    made = make_card(
        nacl.signing.SigningKey(bytes.fromhex(card["seed_hex"])),
        card["name"],
        tuple(card["urls"]),
        tuple(bytes.fromhex(p) for p in card["pins_hex"]),
        CARDS["now"],
    )
    assert made.to_text() == plain["text"]


def test_key_check_vector() -> None:
    check = CARDS["key_check"]
    a = bytes(nacl.signing.SigningKey(bytes.fromhex(check["a_seed_hex"])).verify_key)
    b = bytes(nacl.signing.SigningKey(bytes.fromhex(check["b_seed_hex"])).verify_key)
    assert (a.hex(), b.hex()) == (check["a_key_hex"], check["b_key_hex"])
    assert check["purpose"].encode() == SAS_PURPOSE == b"alertnode:v2:sas:"
    low, high = sorted((a, b))
    digest = hashlib.sha256(check["purpose"].encode() + low + high).digest()
    assert digest.hex() == check["digest_hex"]
    assert six_digits(digest) == check["code"]
    assert short_auth_string(a, b) == short_auth_string(b, a) == check["code"]


# --- pairing -----------------------------------------------------------------------


def test_pairing_vector_from_the_spec() -> None:
    assert PAIRING["commit_purpose"].encode() == COMMIT_PURPOSE
    assert PAIRING["code_purpose"].encode() == CODE_PURPOSE
    hashed: dict[str, tuple[bytes, bytes, bytes]] = {}
    for name, side in PAIRING["sides"].items():
        card = side["card"]
        envelope = bytes.fromhex(side["card_envelope_hex"])
        assert envelope_of("card", card["seed_hex"], pack(card_map(card)))[1] == envelope
        assert side["card_text"] == "alertnode-card:2:" + b64url(envelope)
        nonce = bytes.fromhex(side["nonce_hex"])
        commit = hashlib.sha256(
            PAIRING["commit_purpose"].encode() + len(envelope).to_bytes(2, "big") + envelope + nonce
        ).digest()
        assert commit.hex() == side["commitment_hex"], name
        # TXT records: base64url without padding; the card text (prefix included) in
        # pieces of at most 200 characters, c0 first.
        assert side["txt_commit"] == {"v": "2", "h": b64url(commit)}
        reveal = side["txt_reveal"]
        text = side["card_text"]
        pieces = [text[i : i + 200] for i in range(0, len(text), 200)]
        assert reveal == {
            "v": "2", "h": b64url(commit), "r": b64url(nonce), "n": str(len(pieces)),
            **{f"c{i}": piece for i, piece in enumerate(pieces)},
        }  # fmt: skip
        hashed[name] = (bytes.fromhex(card["key_hex"]), hashlib.sha256(envelope).digest(), nonce)
    (key_lo, card_lo, nonce_lo), (key_hi, card_hi, nonce_hi) = sorted(hashed.values())
    assert hashed[PAIRING["lo"]][0] == key_lo
    digest = hashlib.sha256(
        PAIRING["code_purpose"].encode() + key_lo + key_hi + card_lo + card_hi + nonce_lo + nonce_hi
    ).digest()
    assert digest.hex() == PAIRING["code_digest_hex"]
    assert six_digits(digest) == PAIRING["code"]


def test_pairing_vector_through_the_implementation() -> None:
    now = PAIRING["now"]
    sessions: dict[str, PairingSession] = {}
    envelopes: dict[str, bytes] = {}
    for name, side in PAIRING["sides"].items():
        card = side["card"]
        key = nacl.signing.SigningKey(bytes.fromhex(card["seed_hex"]))
        made = make_card(
            key, card["name"], tuple(card["urls"]),
            tuple(bytes.fromhex(p) for p in card["pins_hex"]), now,
        )  # fmt: skip
        envelope = made.envelope.to_bytes()
        assert envelope.hex() == side["card_envelope_hex"] and made.body == node_card(card)
        nonce = bytes.fromhex(side["nonce_hex"])
        commit = commitment(envelope, nonce)
        assert commit.hex() == side["commitment_hex"]
        assert commit_txt(commit) == side["txt_commit"]
        assert card_txt(made.to_text(), commit, nonce) == side["txt_reveal"]
        props = {k.encode(): v.encode() for k, v in side["txt_reveal"].items()}
        assert read_txt(props) == (commit, envelope, nonce)
        sessions[name], envelopes[name] = PairingSession(envelope, nonce), envelope
    a, b = sessions["a"], sessions["b"]
    a.receive_commitment("b", b.our_commitment)
    b.receive_commitment("a", a.our_commitment)
    assert a.receive_reveal("b", *b.reveal(), now).code == PAIRING["code"]
    assert b.receive_reveal("a", *a.reveal(), now).code == PAIRING["code"]
    nonces = {n: bytes.fromhex(s["nonce_hex"]) for n, s in PAIRING["sides"].items()}
    assert pairing_code(envelopes["b"], nonces["b"], envelopes["a"], nonces["a"]) == PAIRING["code"]


# --- rotation and pin statements ----------------------------------------------------


def test_rotation_vector_from_the_spec() -> None:
    old = bytes(nacl.signing.SigningKey(bytes.fromhex(ROTATION["old_seed_hex"])).verify_key)
    new_key = nacl.signing.SigningKey(bytes.fromhex(ROTATION["new_seed_hex"]))
    new = bytes(new_key.verify_key)
    assert (old.hex(), new.hex()) == (ROTATION["old_hex"], ROTATION["new_hex"])
    created = ROTATION["created"]
    assert created == ROTATION["now"] - ROTATION["now"] % 3600 and created % 3600 == 0
    core = pack({"v": 1, "old": old, "new": new, "created": created})
    assert core.hex() == ROTATION["core_hex"]
    assert ROTATION["proof_purpose"].encode() == PROOF_PURPOSE
    proof = new_key.sign(ROTATION["proof_purpose"].encode() + core).signature
    assert proof.hex() == ROTATION["proof_hex"]
    body = pack({"v": 1, "old": old, "new": new, "created": created, "proof": proof})
    assert ROTATION["tag"] == "alertnode:v2:rotation:"
    check_envelope("rotation", ROTATION["old_seed_hex"], body, ROTATION)


def test_rotation_vector_through_the_implementation() -> None:
    old = nacl.signing.SigningKey(bytes.fromhex(ROTATION["old_seed_hex"]))
    new = nacl.signing.SigningKey(bytes.fromhex(ROTATION["new_seed_hex"]))
    made = sign_rotation(old, new, ROTATION["now"])
    assert made.envelope.to_bytes().hex() == ROTATION["envelope_hex"]
    assert made.id.hex() == ROTATION["id_hex"] and made.body.proof.hex() == ROTATION["proof_hex"]
    verified = verify_rotation(bytes.fromhex(ROTATION["envelope_hex"]), ROTATION["now"])
    assert verified.body == made.body and verified.body.created == ROTATION["created"]


def test_pins_vector() -> None:
    key = nacl.signing.SigningKey(bytes.fromhex(PINS["seed_hex"]))
    node = bytes(key.verify_key)
    assert node.hex() == PINS["node_hex"]
    pins = tuple(bytes.fromhex(p) for p in PINS["pins_hex"])
    assert list(pins) == sorted(pins)
    body = pack({"v": 2, "node": node, "pins": pins, "created": PINS["created"]})
    assert PINS["tag"] == Kind.PINS.tag.decode() == "alertnode:v2:pins:"
    check_envelope("pins", PINS["seed_hex"], body, PINS)
    made = sign_pins(key, pins, PINS["created"])
    assert made.envelope.to_bytes().hex() == PINS["envelope_hex"]
    verified = verify_pins(bytes.fromhex(PINS["envelope_hex"]), PINS["created"])
    assert verified.body == made.body


def test_move_vector() -> None:
    key = nacl.signing.SigningKey(bytes.fromhex(MOVE["seed_hex"]))
    node = bytes(key.verify_key)
    assert node.hex() == MOVE["node_hex"]
    urls = tuple(MOVE["urls"])
    body = pack({"v": 2, "node": node, "urls": urls, "created": MOVE["created"]})
    assert MOVE["tag"] == Kind.MOVE.tag.decode() == "alertnode:v2:move:"
    check_envelope("move", MOVE["seed_hex"], body, MOVE)
    made = sign_move(key, urls, MOVE["created"])
    assert made.envelope.to_bytes().hex() == MOVE["envelope_hex"]
    verified = verify_move(bytes.fromhex(MOVE["envelope_hex"]), MOVE["created"])
    assert verified.body == made.body
