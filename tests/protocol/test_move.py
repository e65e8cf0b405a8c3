"""Move statements (protocol/move.py): one test per rule."""

from __future__ import annotations

import nacl.signing
import pytest

from protocol.encoding import pack
from protocol.errors import InvalidField, MalformedObject
from protocol.limits import MAX_CLOCK_SKEW_S
from protocol.move import sign_move, verify_move
from protocol.signing import Kind, sign

KEY = nacl.signing.SigningKey(bytes(range(32)))
OTHER = nacl.signing.SigningKey(bytes(range(1, 33)))
NOW = 1_800_000_000
URL = "https://new.example.org:8443"


def statement(key: nacl.signing.SigningKey = KEY, **changes: object) -> bytes:
    body = {"v": 2, "node": bytes(KEY.verify_key), "urls": (URL,), "created": NOW}
    body.update(changes)
    return sign(Kind.MOVE, pack(body), key).to_bytes()


def test_a_move_verifies_and_is_newer_only_than_earlier_ones() -> None:
    move = verify_move(statement(), NOW)
    assert move.body.urls == (URL,)
    assert move.newer_than(None) and move.newer_than(NOW - 1)
    assert not move.newer_than(NOW)  # a replay of the same statement
    assert not move.newer_than(NOW + 1)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"urls": ()}, "urls"),
        ({"urls": (URL, URL)}, "urls"),
        ({"urls": ("http://plain.example.org",)}, "urls"),
        ({"urls": (1,)}, "urls"),
        ({"created": NOW + MAX_CLOCK_SKEW_S + 1}, "created"),
    ],
)
def test_a_bad_move_is_refused(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        verify_move(statement(**changes), NOW)
    assert refused.value.field == field


def test_a_move_signed_by_another_key_is_refused() -> None:
    with pytest.raises(InvalidField) as refused:
        verify_move(statement(OTHER), NOW)
    assert refused.value.field == "node"


def test_an_unknown_field_is_refused() -> None:
    with pytest.raises(MalformedObject):
        verify_move(statement(extra=1), NOW)


def test_another_kind_is_not_a_move() -> None:
    pins = sign(Kind.PINS, pack({"v": 2}), KEY).to_bytes()
    with pytest.raises(MalformedObject):
        verify_move(pins, NOW)


def test_sign_move_makes_what_verify_accepts() -> None:
    assert sign_move(KEY, (URL,), NOW).envelope.to_bytes() == statement()
