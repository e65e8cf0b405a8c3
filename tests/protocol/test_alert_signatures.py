"""Alerts and retractions: signatures, origins, domain separation, verified objects and
the error tree (the field rules are in test_alert.py)."""

from __future__ import annotations

import dataclasses

import pytest

from protocol.alert import AlertBody, VerifiedAlert, sign_alert, verify_alert
from protocol.errors import (
    BadSignature,
    InvalidField,
    LimitExceeded,
    LocalProtocolError,
    MalformedObject,
    ProtocolError,
)
from protocol.limits import (
    Limits,
)
from protocol.retraction import VerifiedRetraction, sign_retraction, verify_retraction
from protocol.signing import Envelope, Kind, sign

from . import (
    BLINDED_1,
    BLINDED_2,
    KEY_A,
    KEY_B,
    NOW,
    ORIGIN_A,
    ORIGIN_B,
    alert_body,
    body_map,
    retraction_body,
    signed,
)
from .test_alert import refused

# --- signatures, origins and domain separation -------------------------------------


def test_envelope_signer_must_be_the_body_origin() -> None:
    # KEY_B signs a body that claims ORIGIN_A: the signature is fine, the claim is not.
    exc = refused(signed(alert_body().to_bytes(), key=KEY_B), "origin")
    assert "signed" in str(exc)
    refused(signed(alert_body(origin=ORIGIN_B).to_bytes(), key=KEY_A), "origin")


def test_sign_alert_refuses_a_key_that_is_not_the_origin() -> None:
    with pytest.raises(LocalProtocolError, match="origin"):
        sign_alert(alert_body(origin=ORIGIN_B), KEY_A, NOW)
    with pytest.raises(LocalProtocolError, match="origin"):
        sign_retraction(retraction_body(origin=ORIGIN_B), KEY_A, NOW)


def test_a_changed_body_does_not_verify() -> None:
    env = sign(Kind.ALERT, alert_body().to_bytes(), KEY_A)
    other = Envelope(Kind.ALERT, env.signer, alert_body(danger=1).to_bytes(), env.sig)
    with pytest.raises(BadSignature):
        verify_alert(other.to_bytes(), NOW)


def test_an_alert_signature_does_not_verify_as_a_retraction() -> None:
    alert = sign(Kind.ALERT, retraction_body().to_bytes(), KEY_A)
    # The same bytes relabelled as a retraction: the domain tag differs, so does the sig.
    relabelled = Envelope(Kind.RETRACTION, alert.signer, alert.body, alert.sig)
    with pytest.raises(BadSignature):
        verify_retraction(relabelled.to_bytes(), NOW)
    # And an alert envelope offered as a retraction is refused by its kind.
    with pytest.raises(MalformedObject):
        verify_retraction(alert.to_bytes(), NOW)


def test_a_retraction_signature_does_not_verify_as_an_alert() -> None:
    retraction = sign(Kind.RETRACTION, alert_body().to_bytes(), KEY_A)
    relabelled = Envelope(Kind.ALERT, retraction.signer, retraction.body, retraction.sig)
    with pytest.raises(BadSignature):
        verify_alert(relabelled.to_bytes(), NOW)
    with pytest.raises(MalformedObject):
        verify_alert(retraction.to_bytes(), NOW)


@pytest.mark.parametrize("kind", [Kind.CARD, Kind.ROTATION, Kind.REQUEST])
def test_other_kinds_signatures_do_not_verify_as_alerts(kind: Kind) -> None:
    other = sign(kind, alert_body().to_bytes(), KEY_A)
    relabelled = Envelope(Kind.ALERT, other.signer, other.body, other.sig)
    with pytest.raises(BadSignature):
        verify_alert(relabelled.to_bytes(), NOW)


def test_signature_is_checked_before_the_body_is_decoded() -> None:
    # Garbage body under a bad signature: BadSignature, not MalformedObject.
    env = Envelope(Kind.ALERT, ORIGIN_A, b"\xc1garbage", bytes(64))
    with pytest.raises(BadSignature):
        verify_alert(env.to_bytes(), NOW)


def test_stricter_limits_apply_to_the_body() -> None:
    data = signed(alert_body().to_bytes())
    with pytest.raises(LimitExceeded):
        verify_alert(data, NOW, Limits(body_bytes=64))


# --- verified objects --------------------------------------------------------------


def test_verified_alert_cannot_be_constructed_directly() -> None:
    verified = verify_alert(signed(alert_body().to_bytes()), NOW)
    for proof in (None, object(), "proof"):
        with pytest.raises(LocalProtocolError, match="verify_alert"):
            VerifiedAlert(verified.envelope, verified.body, proof)
    with pytest.raises(TypeError):
        VerifiedAlert(verified.envelope, verified.body)  # type: ignore[call-arg]


def test_a_proof_cannot_be_moved_to_another_body() -> None:
    verified = verify_alert(signed(alert_body().to_bytes()), NOW)
    forged = alert_body(danger=1, description="not what was signed")
    with pytest.raises(LocalProtocolError):
        dataclasses.replace(verified, body=forged)
    with pytest.raises(LocalProtocolError):
        VerifiedAlert(verified.envelope, forged, verified._proof)
    other = sign(Kind.ALERT, forged.to_bytes(), KEY_A)
    with pytest.raises(LocalProtocolError):
        dataclasses.replace(verified, envelope=other)


def test_verified_objects_are_frozen() -> None:
    verified = verify_alert(signed(alert_body().to_bytes()), NOW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        verified.body = alert_body(danger=1)  # type: ignore[misc]


def test_verified_retraction_cannot_be_constructed_directly() -> None:
    verified = verify_retraction(signed(retraction_body().to_bytes(), Kind.RETRACTION), NOW)
    with pytest.raises(LocalProtocolError, match="verify_retraction"):
        VerifiedRetraction(verified.envelope, verified.body, object())
    with pytest.raises(LocalProtocolError):
        dataclasses.replace(verified, body=retraction_body(reason="other"))


# --- the error tree ----------------------------------------------------------------


def test_every_refusal_is_a_protocol_error_with_a_status() -> None:
    cases: list[tuple[bytes, type[ProtocolError], int]] = [
        (b"\x00" * 20_000, LimitExceeded, 413),
        (b"\xc1", MalformedObject, 400),
        (Envelope(Kind.ALERT, ORIGIN_A, b"\x80", bytes(64)).to_bytes(), BadSignature, 401),
        (signed(alert_body(danger=9).to_bytes()), InvalidField, 422),
    ]
    for data, error, status in cases:
        with pytest.raises(error) as info:
            verify_alert(data, NOW)
        assert info.value.status == status


def test_alert_body_fields_match_the_decoder() -> None:
    names = [f.name for f in dataclasses.fields(AlertBody)]
    # ``ext`` holds both extension keys, ext and must_understand.
    assert set(names) | {"v", "must_understand"} == set(body_map(alert_body()))
    assert BLINDED_1 != BLINDED_2
