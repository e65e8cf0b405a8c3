"""Golden vectors: recompute every committed value from its inputs, byte for byte.

The JSON files in tests/vectors/ are written by tests/vectors/make_vectors.py and
committed; this module only reads them. A failure here means the wire format changed:
if that was the intent, regenerate the vectors and say so in the changelog.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import nacl.pwhash.argon2id
import nacl.signing
import pytest

from protocol.alert import AlertBody, Indicator, sign_alert, verify_alert
from protocol.errors import InvalidField, InvalidIndicator
from protocol.extensions import Extensions
from protocol.fields import INDICATOR_KINDS
from protocol.indicators import (
    BLIND_MEMLIMIT_BYTES,
    BLIND_OPSLIMIT,
    BLINDED_BYTES,
    SUITE,
    SUITES,
    NetworkKey,
    blind,
    blind_normalised,
    kind_salt,
    normalise,
    prehash,
)
from protocol.retraction import RetractionBody, sign_retraction, verify_retraction
from protocol.signing import Kind, sign

VECTORS = Path(__file__).parents[1] / "vectors"


def load(name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return value


INDICATORS = load("indicators.json")
SIGNED = load("signed.json")
KEY = nacl.signing.SigningKey(bytes.fromhex(SIGNED["seed_hex"]))
NOW: int = SIGNED["now"]
NETWORK = INDICATORS["network_key"]
NETWORK_KEY = NetworkKey(bytes.fromhex(NETWORK["secret_hex"]), NETWORK["epoch"])


# --- indicators --------------------------------------------------------------------

# Each blinding suite's vectors: suite 1's were written first, suite 2 blinds the same
# inputs under the same key with four passes.
SUITE_VECTORS = {1: INDICATORS, 2: load("indicators-suite2.json")}
SUITE_CASES = [
    pytest.param(suite, case, id=f"suite{suite}-{case['kind']}:{case['text'].strip()}")
    for suite, vectors in SUITE_VECTORS.items()
    for case in vectors["cases"]
]


def test_blinding_parameters() -> None:
    assert set(SUITE_VECTORS) == set(SUITES)
    # New alerts are blinded with the newest suite, whose parameters are the module's.
    assert SUITE == max(SUITES) == 2
    assert SUITES[SUITE] == (BLIND_OPSLIMIT, BLIND_MEMLIMIT_BYTES)
    for suite, vectors in SUITE_VECTORS.items():
        assert vectors["suite"] == suite
        opslimit, memlimit = SUITES[suite]
        params = vectors["argon2id"]
        assert params == {
            "opslimit": opslimit,
            "memlimit_bytes": memlimit,
            "output_bytes": BLINDED_BYTES,
        }
        # Issue 11: at least 64 MiB a guess.
        assert params["memlimit_bytes"] >= 64 * 1024 * 1024
        # The suites differ in the blinded values only.
        assert vectors["network_key"] == NETWORK
        assert vectors["salts"] == INDICATORS["salts"]
        assert [(c["text"], c["prehash"]) for c in vectors["cases"]] == [
            (c["text"], c["prehash"]) for c in INDICATORS["cases"]
        ]
    assert SUITE_VECTORS[2]["argon2id"]["opslimit"] == 4
    blinded_1 = {c["blinded"] for c in SUITE_VECTORS[1]["cases"]}
    assert blinded_1.isdisjoint(c["blinded"] for c in SUITE_VECTORS[2]["cases"])


def test_key_id() -> None:
    expected = bytes.fromhex(NETWORK["key_id_hex"])
    assert NETWORK_KEY.key_id == expected
    spec = hashlib.blake2b(NETWORK_KEY.secret, digest_size=8, person=b"alertnode:key-id")
    assert spec.digest() == expected


@pytest.mark.parametrize("kind", INDICATOR_KINDS)
def test_salts(kind: str) -> None:
    expected = bytes.fromhex(INDICATORS["salts"][kind])
    assert kind_salt(kind, NETWORK_KEY) == expected
    spec = hashlib.blake2b(
        kind.encode(), digest_size=16, key=NETWORK_KEY.secret, person=b"alertnode:ind-st"
    )
    assert spec.digest() == expected


@pytest.mark.parametrize(("suite", "case"), SUITE_CASES)
def test_indicator_vector(suite: int, case: dict[str, str]) -> None:
    normalised = normalise(case["kind"], case["text"], case["region"])
    assert normalised == case["normalised"]
    assert prehash(case["kind"], normalised, NETWORK_KEY).hex() == case["prehash"]
    blinded = blind(case["kind"], case["text"], NETWORK_KEY, case["region"], suite)
    assert blinded.hex() == case["blinded"]


@pytest.mark.parametrize("suite", sorted(SUITE_VECTORS))
def test_blinding_spec_independent_of_the_helpers(suite: int) -> None:
    """docs/protocol.md section 6, computed from its text with hashlib and libsodium."""
    vectors = SUITE_VECTORS[suite]
    case = vectors["cases"][0]
    secret = bytes.fromhex(NETWORK["secret_hex"])
    kind, text = case["kind"], case["normalised"]
    pre = hashlib.blake2b(
        kind.encode() + b"\x00" + text.encode(),
        digest_size=32,
        key=secret,
        person=b"alertnode:ind-pw",
    ).digest()
    salt = bytes.fromhex(vectors["salts"][kind])
    passes = {1: 3, 2: 4}[suite]  # as section 6 writes them
    out = nacl.pwhash.argon2id.kdf(32, pre, salt, opslimit=passes, memlimit=64 * 1024 * 1024)
    assert out.hex() == case["blinded"]


def test_a_suite_not_defined_is_refused_not_guessed() -> None:
    with pytest.raises(InvalidIndicator):
        blind_normalised("phone", "+447700900123", NETWORK_KEY, 3)


@pytest.mark.parametrize("suite", sorted(SUITE_VECTORS))
def test_every_kind_has_a_vector(suite: int) -> None:
    assert {c["kind"] for c in SUITE_VECTORS[suite]["cases"]} == set(INDICATOR_KINDS)


@pytest.mark.parametrize("suite", sorted(SUITE_VECTORS))
def test_three_gb_phone_forms_share_one_blinded_value(suite: int) -> None:
    cases = SUITE_VECTORS[suite]["cases"]
    gb = [c for c in cases if c["kind"] == "phone" and c["region"] == "GB"]
    texts = {c["text"] for c in gb}
    assert {"07700 900123", "+44 7700 900123", "0044-7700-900-123"} <= texts
    same = {c["blinded"] for c in gb if c["normalised"] == "+447700900123"}
    assert len(same) == 1
    assert blind_normalised("phone", "+447700900123", NETWORK_KEY, suite).hex() in same


# --- signed objects ----------------------------------------------------------------


def test_key_and_tags() -> None:
    assert bytes(KEY.verify_key).hex() == SIGNED["public_key_hex"]
    assert {kind.value: kind.tag.decode() for kind in Kind} == SIGNED["tags"]


def build_alert(case: dict[str, Any]) -> AlertBody:
    indicators = []
    for item in case["indicators"]:
        blinded = blind(item["kind"], item["text"], NETWORK_KEY, item["region"], item["suite"])
        assert blinded.hex() == item["blinded"]
        assert item["key_id"] == NETWORK["key_id_hex"]
        indicators.append(Indicator(item["kind"], blinded, NETWORK_KEY.key_id, item["suite"]))
    return AlertBody(
        origin=bytes(KEY.verify_key),
        created=case["created"],
        expires=case["expires"],
        incident=case["incident"],
        region=case["region"],
        categories=tuple(case["categories"]),
        danger=case["danger"],
        indicators=tuple(indicators),
        description=case["description"],
        lang=case["lang"],
        hops=case["hops"],
        tlp=case["tlp"],
        supersedes=None if case["supersedes"] is None else bytes.fromhex(case["supersedes"]),
        nonce=bytes.fromhex(case["nonce"]),
        translations=tuple(sorted(case["translations"].items())),
        partner_checks=case["partner_checks"],
        ext=Extensions(
            tuple(sorted((k, bytes.fromhex(v)) for k, v in case["ext"].items())),
            tuple(case["must_understand"]),
        ),
    )


def check_signed(kind: Kind, body: bytes, vector: dict[str, Any]) -> None:
    assert body.hex() == vector["body_hex"]
    env = sign(kind, body, KEY)
    assert env.sig.hex() == vector["sig_hex"]
    assert env.to_bytes().hex() == vector["envelope_hex"]
    assert env.id.hex() == vector["id_hex"]
    # The spec, independent of the implementation's helpers:
    tag = SIGNED["tags"][kind.value].encode()
    assert hashlib.sha256(tag + body).hexdigest() == vector["id_hex"]
    KEY.verify_key.verify(tag + body, bytes.fromhex(vector["sig_hex"]))


@pytest.mark.parametrize("vector", SIGNED["alerts"], ids=lambda v: v["input"]["name"])
def test_alert_vector(vector: dict[str, Any]) -> None:
    body = build_alert(vector["input"])
    check_signed(Kind.ALERT, body.to_bytes(), vector)
    stored = bytes.fromhex(vector["envelope_hex"])
    verified = verify_alert(stored, NOW)
    assert verified.body == body
    assert verified.id.hex() == vector["id_hex"]
    assert verified.envelope.to_bytes() == stored
    assert sign_alert(body, KEY, NOW).envelope.to_bytes() == stored


def test_superseding_vector_names_the_first_alert() -> None:
    first, second = SIGNED["alerts"][:2]
    assert second["input"]["supersedes"] == first["id_hex"]


def test_retraction_vector() -> None:
    vector = SIGNED["retraction"]
    case = vector["input"]
    body = RetractionBody(
        origin=bytes(KEY.verify_key),
        alert=bytes.fromhex(case["alert"]),
        reason=case["reason"],
        created=case["created"],
        expires=case["expires"],
    )
    assert case["alert"] == SIGNED["alerts"][0]["id_hex"]
    check_signed(Kind.RETRACTION, body.to_bytes(), vector)
    stored = bytes.fromhex(vector["envelope_hex"])
    verified = verify_retraction(stored, NOW)
    assert verified.body == body
    assert verified.id.hex() == vector["id_hex"]
    assert sign_retraction(body, KEY, NOW).envelope.to_bytes() == stored


def test_stored_vectors_expire() -> None:
    alert = SIGNED["alerts"][0]
    with pytest.raises(InvalidField, match="expires"):
        verify_alert(bytes.fromhex(alert["envelope_hex"]), alert["input"]["expires"])


def test_every_vector_file_is_checked_by_a_test() -> None:
    """A JSON vector no test reads would rot unnoticed: each file is named by one."""
    tests = "".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_*.py"))
    files = sorted(p.name for p in VECTORS.glob("*.json"))
    assert files == [
        "cards.json", "indicators-suite2.json", "indicators.json", "move.json", "netkeys.json",
        "normalisation.json", "pairing.json",
        "pins.json", "request.json", "rotation.json", "signed.json",
    ]  # fmt: skip
    for name in files:
        assert f'"{name}"' in tests, name
