"""Key rotation statements: both signatures are required, each refusal once."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import nacl.signing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.encoding import pack, unpack
from protocol.errors import (
    BadSignature,
    InvalidField,
    LimitExceeded,
    LocalProtocolError,
    MalformedObject,
    ProtocolError,
)
from protocol.limits import HOUR_S, MAX_CLOCK_SKEW_S
from protocol.rotation import (
    PROOF_PURPOSE,
    RotationBody,
    VerifiedRotation,
    sign_rotation,
    verify_rotation,
)
from protocol.signing import Kind

from . import CREATED, KEY_A, KEY_B, NOW, ORIGIN_A, ORIGIN_B, signed

KEY_C = nacl.signing.SigningKey(bytes(range(64, 96)))
ORIGIN_C = bytes(KEY_C.verify_key)
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def proof(new: nacl.signing.SigningKey, old: bytes, new_key: bytes, created: int) -> bytes:
    core = pack({"created": created, "new": new_key, "old": old, "v": 1})
    return new.sign(PROOF_PURPOSE + core).signature


def rotation_map(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = dict(unpack(sign_rotation(KEY_A, KEY_B, NOW).envelope.body))
    value.update(changes)
    return value


def statement(key: nacl.signing.SigningKey = KEY_A, **changes: Any) -> bytes:
    return signed(pack(rotation_map(**changes)), Kind.ROTATION, key)


# --- the happy path ----------------------------------------------------------------


def test_a_rotation_verifies_to_an_equal_body() -> None:
    made = sign_rotation(KEY_A, KEY_B, NOW)
    verified = verify_rotation(made.envelope.to_bytes(), NOW)
    assert (verified.old, verified.new) == (ORIGIN_A, ORIGIN_B)
    assert verified.body == made.body
    assert verified.body.created == CREATED
    assert verified.envelope.signer == ORIGIN_A


def test_a_verified_rotation_is_made_only_by_verify() -> None:
    made = sign_rotation(KEY_A, KEY_B, NOW)
    with pytest.raises(LocalProtocolError):
        VerifiedRotation(made.envelope, made.body, object())
    with pytest.raises(LocalProtocolError):
        dataclasses.replace(made, body=dataclasses.replace(made.body, new=ORIGIN_C))


# --- both signatures ----------------------------------------------------------------


def test_the_new_keys_proof_is_required() -> None:
    # Signed by the old key, but the proof is by a third key: the node does not hold
    # the key it claims to move to.
    bad = proof(KEY_C, ORIGIN_A, ORIGIN_B, CREATED)
    with pytest.raises(BadSignature, match="new key"):
        verify_rotation(statement(proof=bad), NOW)


def test_a_proof_for_another_statement_is_refused() -> None:
    other_time = proof(KEY_B, ORIGIN_A, ORIGIN_B, CREATED - HOUR_S)
    with pytest.raises(BadSignature):
        verify_rotation(statement(proof=other_time), NOW)
    # Moving C's node onto B reuses nothing from B's proof for A.
    with pytest.raises(BadSignature):
        verify_rotation(statement(KEY_C, old=ORIGIN_C), NOW)


def test_a_proof_without_the_purpose_tag_is_refused() -> None:
    core = pack({"created": CREATED, "new": ORIGIN_B, "old": ORIGIN_A, "v": 1})
    untagged = KEY_B.sign(core).signature
    with pytest.raises(BadSignature):
        verify_rotation(statement(proof=untagged), NOW)


def test_the_old_key_must_sign_the_envelope() -> None:
    # The new key alone cannot move a node: the envelope must be the old key's.
    with pytest.raises(InvalidField) as info:
        verify_rotation(statement(KEY_B), NOW)
    assert info.value.field == "old"


def test_a_changed_signature_is_refused() -> None:
    env = sign_rotation(KEY_A, KEY_B, NOW).envelope
    bad = dataclasses.replace(env, sig=bytes([env.sig[0] ^ 4]) + env.sig[1:])
    with pytest.raises(BadSignature):
        verify_rotation(bad.to_bytes(), NOW)


def test_every_single_byte_change_is_refused() -> None:
    wire = sign_rotation(KEY_A, KEY_B, NOW).envelope.to_bytes()
    for i in range(len(wire)):
        changed = wire[:i] + bytes([wire[i] ^ 0x01]) + wire[i + 1 :]
        with pytest.raises(ProtocolError):
            verify_rotation(changed, NOW)


def test_another_kind_is_not_a_rotation() -> None:
    with pytest.raises(MalformedObject, match="expected a rotation"):
        verify_rotation(signed(pack(rotation_map()), Kind.CARD), NOW)


# --- fields -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"new": ORIGIN_A}, "new"),
        ({"new": ORIGIN_B[:31]}, "new"),
        ({"old": b""}, "old"),
        ({"proof": b"x" * 63}, "proof"),
        ({"created": CREATED + 1}, "created"),
        ({"created": -HOUR_S}, "created"),
        ({"v": 2}, "v"),
    ],
)
def test_bad_fields_are_refused(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as info:
        verify_rotation(statement(**changes), NOW)
    assert info.value.field == field


def test_a_rotation_from_the_future_is_refused() -> None:
    later = CREATED + 2 * HOUR_S
    data = statement(created=later, proof=proof(KEY_B, ORIGIN_A, ORIGIN_B, later))
    with pytest.raises(InvalidField, match="future"):
        verify_rotation(data, NOW)
    assert verify_rotation(data, later - MAX_CLOCK_SKEW_S).body.created == later


def test_unknown_and_missing_fields_are_refused() -> None:
    with pytest.raises(MalformedObject, match="unknown fields"):
        verify_rotation(statement(reason="compromised"), NOW)
    value = rotation_map()
    del value["proof"]
    with pytest.raises(InvalidField):
        verify_rotation(signed(pack(value), Kind.ROTATION), NOW)


def test_rotating_to_the_same_key_is_refused() -> None:
    with pytest.raises(InvalidField):
        sign_rotation(KEY_A, KEY_A, NOW)


def test_a_rotation_body_round_trips() -> None:
    body = RotationBody(ORIGIN_A, ORIGIN_B, CREATED, proof(KEY_B, ORIGIN_A, ORIGIN_B, CREATED))
    assert verify_rotation(signed(body.to_bytes(), Kind.ROTATION), NOW).body == body


def test_an_oversized_statement_is_refused() -> None:
    with pytest.raises(LimitExceeded):
        verify_rotation(statement(reason="x" * 20_000), NOW)


# --- only protocol errors ------------------------------------------------------------


@QUICK
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_protocol_errors(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        verify_rotation(data, NOW)
    with pytest.raises(ProtocolError):
        verify_rotation(signed(data, Kind.ROTATION), NOW)


@QUICK
@given(
    st.sampled_from(sorted(rotation_map())),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        st.text(max_size=40),
        st.binary(max_size=70),
    ),
)
def test_one_arbitrary_field_raises_only_protocol_errors(field: str, value: Any) -> None:
    with contextlib.suppress(ProtocolError):
        verify_rotation(statement(**{field: value}), NOW)


def test_rotation_ext_is_kept_and_must_understand_is_refused() -> None:
    from protocol.extensions import UnsupportedExtension
    from protocol.signing import Kind, sign

    old_key, new_key = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()
    now = 1_790_000_000
    good = sign_rotation(old_key, new_key, now).body
    with_ext = RotationBody(good.old, good.new, good.created, good.proof, (("org.example:x", 1),))
    data = sign(Kind.ROTATION, with_ext.to_bytes(), old_key).to_bytes()
    assert verify_rotation(data, now).body.ext == (("org.example:x", 1),)
    body = dict(unpack(with_ext.to_bytes()))
    body["must_understand"] = ("org.example:x",)
    refused = sign(Kind.ROTATION, pack(body), old_key).to_bytes()
    with pytest.raises(UnsupportedExtension) as info:
        verify_rotation(refused, now)
    assert info.value.code == "unsupported_extension"


def test_rotation_ext_obeys_the_one_rule_of_every_ext() -> None:
    """docs/protocol.md section 5a: at most 8 keys and 1024 bytes packed, in a rotation
    statement too, whose body limits are looser (it took 12 keys and 3000 bytes)."""
    from protocol.limits import MAX_EXT_BYTES, MAX_EXT_KEYS

    for ext in (
        {f"org.example:k{i}": i for i in range(MAX_EXT_KEYS + 1)},
        {"org.example:big": "x" * MAX_EXT_BYTES},
    ):
        with pytest.raises(InvalidField) as info:
            verify_rotation(statement(ext=ext), NOW)
        assert info.value.field == "ext"
    most = {f"org.example:k{i}": i for i in range(MAX_EXT_KEYS)}
    assert len(verify_rotation(statement(ext=most), NOW).body.ext) == MAX_EXT_KEYS
