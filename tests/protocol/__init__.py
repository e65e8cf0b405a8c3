"""Tests of protocol/: golden vectors, Hypothesis properties and one test per rule.

The builders below are shared so that every module starts from the same valid alert
and changes exactly one thing; a test that fails then names the rule it broke.
"""

from __future__ import annotations

from typing import Any

import nacl.signing

from protocol.alert import AlertBody, Indicator
from protocol.encoding import pack, unpack
from protocol.retraction import RetractionBody
from protocol.signing import Kind, sign

SEED_A = bytes(range(32))
SEED_B = bytes(range(32, 64))
KEY_A = nacl.signing.SigningKey(SEED_A)
KEY_B = nacl.signing.SigningKey(SEED_B)
ORIGIN_A = bytes(KEY_A.verify_key)
ORIGIN_B = bytes(KEY_B.verify_key)

CREATED = 1_735_693_200  # 2025-01-01T01:00:00Z, on the hour
NOW = CREATED + 1800
EXPIRES = CREATED + 30 * 86400

# Stand-ins for blinded values: blinding costs ~20 ms, and the decoder only checks
# that a blinded value is 32 bytes.
BLINDED_1 = bytes([1]) * 32
BLINDED_2 = bytes([2]) * 32
NONCE = bytes(range(200, 216))
KEY_ID = bytes([9]) * 8
KEY_ID_2 = bytes([10]) * 8

DELETE = object()  # pass as a field's new value to remove the field


def alert_body(**changes: Any) -> AlertBody:
    """A valid alert by ORIGIN_A, with ``changes`` applied."""
    fields: dict[str, Any] = {
        "origin": ORIGIN_A,
        "created": CREATED,
        "expires": EXPIRES,
        "incident": "2024-12-30",
        "region": "GB-LND",
        "categories": ("violence", "robbery"),
        "danger": 3,
        "indicators": (
            Indicator("phone", BLINDED_1, KEY_ID, 1),
            Indicator("email", BLINDED_2, KEY_ID, 1),
        ),
        "description": "Took the money back by force.\nDrives a red van.",
        "lang": "en",
        "hops": 1,
        "tlp": "AMBER",
        "supersedes": None,
        "nonce": NONCE,
    }
    fields.update(changes)
    return AlertBody(**fields)


def retraction_body(**changes: Any) -> RetractionBody:
    """A valid retraction by ORIGIN_A, with ``changes`` applied."""
    fields: dict[str, Any] = {
        "origin": ORIGIN_A,
        "alert": bytes(range(100, 132)),
        "reason": "mistaken",
        "created": CREATED,
        "expires": EXPIRES,
    }
    fields.update(changes)
    return RetractionBody(**fields)


def body_map(body: AlertBody | RetractionBody, **changes: Any) -> dict[str, Any]:
    """The decoded map of ``body`` with ``changes`` applied (DELETE removes a key)."""
    value: dict[str, Any] = dict(unpack(body.to_bytes()))
    for key, new in changes.items():
        if new is DELETE:
            del value[key]
        else:
            value[key] = new
    return value


def signed(
    body: bytes | dict[str, Any],
    kind: Kind = Kind.ALERT,
    key: nacl.signing.SigningKey = KEY_A,
) -> bytes:
    """Envelope bytes of ``body`` (bytes as given, or a map packed canonically)."""
    raw = body if isinstance(body, bytes) else pack(body)
    return sign(kind, raw, key).to_bytes()
