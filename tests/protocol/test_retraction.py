"""Retractions: validation, signing and the refusal of every bad field."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.errors import (
    InvalidField,
    MalformedObject,
)
from protocol.fields import RETRACTION_REASONS
from protocol.limits import (
    HOUR_S,
    MAX_CLOCK_SKEW_S,
    MAX_EXPIRY_S,
)
from protocol.retraction import sign_retraction, verify_retraction
from protocol.signing import Kind

from . import (
    CREATED,
    DELETE,
    EXPIRES,
    KEY_A,
    NOW,
    ORIGIN_A,
    ORIGIN_B,
    body_map,
    retraction_body,
    signed,
)
from .test_alert import assert_names

# --- retractions -------------------------------------------------------------------


def test_a_valid_retraction_verifies() -> None:
    body = retraction_body()
    verified = sign_retraction(body, KEY_A, NOW)
    again = verify_retraction(verified.envelope.to_bytes(), NOW)
    assert again.body == body
    assert again.id == verified.id


@pytest.mark.parametrize("reason", RETRACTION_REASONS)
def test_every_retraction_reason_is_allowed(reason: str) -> None:
    sign_retraction(retraction_body(reason=reason), KEY_A, NOW)


BAD_RETRACTION_FIELDS: list[tuple[str, object]] = [
    ("v", DELETE),
    ("v", 1),
    ("v", 3),
    ("ext", DELETE),
    ("ext", ()),
    ("ext", {"noname": 1}),
    ("must_understand", DELETE),
    ("must_understand", ("org.example:absent",)),
    ("origin", DELETE),
    ("origin", ORIGIN_A[:31]),
    ("alert", DELETE),
    ("alert", bytes(31)),
    ("alert", bytes(32).hex()),
    ("alert", None),
    ("reason", DELETE),
    ("reason", "because"),
    ("reason", None),
    ("created", DELETE),
    ("created", CREATED + 1),
    ("created", -HOUR_S),
    ("expires", DELETE),
    ("expires", "never"),
]


@pytest.mark.parametrize(("field", "value"), BAD_RETRACTION_FIELDS)
def test_each_invalid_retraction_field_is_named(field: str, value: object) -> None:
    data = signed(body_map(retraction_body(), **{field: value}), Kind.RETRACTION)
    with pytest.raises(InvalidField) as info:
        verify_retraction(data, NOW)
    assert_names(info.value, field)


def test_every_retraction_field_has_a_refusal_case() -> None:
    assert {f for f, _ in BAD_RETRACTION_FIELDS} == set(body_map(retraction_body()))


@pytest.mark.parametrize(
    ("changes", "now", "field"),
    [
        ({}, EXPIRES, "expires"),
        ({}, CREATED - MAX_CLOCK_SKEW_S - 1, "created"),
        ({"expires": CREATED}, NOW, "expires"),
        ({"expires": CREATED + MAX_EXPIRY_S + 1}, NOW, "expires"),
        ({"origin": ORIGIN_B}, NOW, "origin"),
    ],
)
def test_retraction_times_and_origin(changes: dict[str, Any], now: int, field: str) -> None:
    data = signed(retraction_body(**changes).to_bytes(), Kind.RETRACTION)
    with pytest.raises(InvalidField) as info:
        verify_retraction(data, now)
    assert info.value.field == field


def test_an_unknown_retraction_field_is_malformed() -> None:
    data = signed(body_map(retraction_body(), note="hi"), Kind.RETRACTION)
    with pytest.raises(MalformedObject):
        verify_retraction(data, NOW)
