"""The one verification order of docs/protocol.md section 1 ("Receiving an envelope"):
an object that breaks several rules is refused for the first step it fails, so every
implementation answers it with the same code and field.

Steps: 1-3 framing, 4 signature, 5 decoding, 6 the fields in table order (ending with
ext and must_understand: unsupported_extension), 7 no unknown key, 8 origin = signer,
9 the times against now.
"""

from __future__ import annotations

from typing import Any

import pytest

from protocol.alert import verify_alert
from protocol.encoding import pack
from protocol.errors import BadSignature, InvalidField, MalformedObject, ProtocolError
from protocol.extensions import UnsupportedExtension
from protocol.retraction import verify_retraction
from protocol.signing import Kind

from . import CREATED, EXPIRES, KEY_B, NOW, alert_body, body_map, retraction_body, signed

UNKNOWN = "org.example:changes-meaning"
MUST = {"ext": {UNKNOWN: 1}, "must_understand": (UNKNOWN,)}
EXPIRED_AT = EXPIRES + 1
FUTURE = {"created": CREATED + 7200, "expires": CREATED + 7200 + 86400}


def refusal(kind: Kind, body: dict[str, Any], *, now: int = NOW, key: Any = None) -> ProtocolError:
    """What the receiver raises for ``body`` signed as ``kind`` (by ``key``, else the
    origin's own key) and checked at ``now``."""
    data = signed(pack(body), kind) if key is None else signed(pack(body), kind, key)
    verify = verify_alert if kind is Kind.ALERT else verify_retraction
    with pytest.raises(ProtocolError) as info:
        verify(data, now)
    return info.value


def code_and_field(exc: ProtocolError) -> tuple[str, str | None]:
    return exc.code, exc.field


def body_of(kind: Kind, **changes: Any) -> dict[str, Any]:
    base = alert_body() if kind is Kind.ALERT else retraction_body()
    return body_map(base, **changes)


KINDS = [Kind.ALERT, Kind.RETRACTION]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value)
def test_must_understand_comes_before_the_origin(kind: Kind) -> None:
    # Signed by KEY_B, naming ORIGIN_A: step 8 would refuse it, step 6 comes first.
    exc = refusal(kind, body_of(kind, **MUST), key=KEY_B)
    assert isinstance(exc, UnsupportedExtension)
    assert code_and_field(exc) == ("unsupported_extension", UNKNOWN)
    # The negative control: without the extension, the origin is what is wrong.
    assert code_and_field(refusal(kind, body_of(kind), key=KEY_B)) == ("invalid_field", "origin")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value)
def test_must_understand_comes_before_the_times(kind: Kind) -> None:
    expired = refusal(kind, body_of(kind, **MUST), now=EXPIRED_AT)
    assert code_and_field(expired) == ("unsupported_extension", UNKNOWN)
    future = refusal(kind, body_of(kind, **MUST, **FUTURE))
    assert code_and_field(future) == ("unsupported_extension", UNKNOWN)
    assert code_and_field(refusal(kind, body_of(kind), now=EXPIRED_AT)) == (
        "invalid_field", "expires",
    )  # fmt: skip
    assert code_and_field(refusal(kind, body_of(kind, **FUTURE))) == ("invalid_field", "created")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value)
def test_must_understand_comes_with_everything_wrong_at_once(kind: Kind) -> None:
    """Another signer, expired, and an unknown must-understand key: step 6 decides."""
    exc = refusal(kind, body_of(kind, **MUST), key=KEY_B, now=EXPIRED_AT)
    assert code_and_field(exc) == ("unsupported_extension", UNKNOWN)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value)
def test_must_understand_comes_before_an_unknown_key(kind: Kind) -> None:
    exc = refusal(kind, body_of(kind, **MUST, colour="red"))
    assert code_and_field(exc) == ("unsupported_extension", UNKNOWN)
    unknown = refusal(kind, body_of(kind, colour="red"))
    assert isinstance(unknown, MalformedObject) and unknown.code == "malformed"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value)
def test_an_earlier_field_comes_before_must_understand(kind: Kind) -> None:
    field, bad = ("danger", 9) if kind is Kind.ALERT else ("reason", "bored")
    exc = refusal(kind, body_of(kind, **MUST, **{field: bad}))
    assert isinstance(exc, InvalidField) and not isinstance(exc, UnsupportedExtension)
    assert code_and_field(exc) == ("invalid_field", field)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value)
def test_an_unknown_key_comes_before_the_origin_and_the_times(kind: Kind) -> None:
    exc = refusal(kind, body_of(kind, colour="red"), key=KEY_B, now=EXPIRED_AT)
    assert code_and_field(exc) == ("malformed", None)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value)
def test_the_origin_comes_before_the_times(kind: Kind) -> None:
    exc = refusal(kind, body_of(kind), key=KEY_B, now=EXPIRED_AT)
    assert code_and_field(exc) == ("invalid_field", "origin")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value)
def test_the_signature_comes_before_every_field(kind: Kind) -> None:
    data = bytearray(signed(pack(body_of(kind, **MUST, colour="red")), kind))
    data[-1] ^= 1  # the last byte of the signature
    verify = verify_alert if kind is Kind.ALERT else verify_retraction
    with pytest.raises(BadSignature):
        verify(bytes(data), EXPIRED_AT)


def test_a_whole_hour_is_a_field_rule_checked_before_the_origin() -> None:
    exc = refusal(Kind.ALERT, body_of(Kind.ALERT, created=CREATED + 60), key=KEY_B)
    assert code_and_field(exc) == ("invalid_field", "created")
