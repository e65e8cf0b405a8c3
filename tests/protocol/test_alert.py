"""Alerts and retractions: every validation rule, and every security invariant, once each."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from protocol.alert import (
    Indicator,
    coarsen_hour,
    sign_alert,
    verify_alert,
)
from protocol.encoding import pack
from protocol.errors import (
    InvalidField,
    MalformedObject,
)
from protocol.fields import CATEGORIES, INDICATOR_KINDS, TLP_LABELS
from protocol.limits import (
    DAY_S,
    HOUR_S,
    MAX_CATEGORIES,
    MAX_CLOCK_SKEW_S,
    MAX_DESCRIPTION_CHARS,
    MAX_EXPIRY_S,
    MAX_HOPS,
    MAX_INCIDENT_AGE_DAYS,
    MAX_INDICATORS,
    MAX_REGION_CHARS,
)

from . import (
    BLINDED_1,
    CREATED,
    DELETE,
    EXPIRES,
    KEY_A,
    KEY_ID,
    KEY_ID_2,
    NOW,
    ORIGIN_A,
    alert_body,
    body_map,
    signed,
)

PHONE_1 = Indicator("phone", BLINDED_1, KEY_ID, 1)
OLDEST_INCIDENT = datetime.date(2025, 1, 1) - datetime.timedelta(days=MAX_INCIDENT_AGE_DAYS)


def refused(data: bytes, field: str, now: int = NOW) -> InvalidField:
    """Assert that verify_alert refuses ``data`` naming ``field``, with a sentence."""
    with pytest.raises(InvalidField) as info:
        verify_alert(data, now)
    assert_names(info.value, field)
    return info.value


def assert_names(exc: InvalidField, field: str) -> None:
    assert exc.field == field
    assert str(exc) == f"{field}: {exc.message.removeprefix(field + ': ')}"
    message = str(exc).removeprefix(field + ": ")
    # A sentence a person can act on: several words, no Python reprs of our types.
    assert len(message.split()) >= 2, message
    assert "Error" not in message and "<" not in message, message
    assert exc.status == 422


# --- the happy path ----------------------------------------------------------------


def test_a_valid_alert_verifies_to_an_equal_body() -> None:
    body = alert_body()
    verified = verify_alert(signed(body.to_bytes()), NOW)
    assert verified.body == body
    assert verified.envelope.signer == ORIGIN_A
    assert verified.envelope.body == body.to_bytes()
    assert verified.id == verified.envelope.id


def test_sign_alert_checks_what_it_signs_as_a_receiver_would() -> None:
    verified = sign_alert(alert_body(), KEY_A, NOW)
    assert verify_alert(verified.envelope.to_bytes(), NOW).body == alert_body()
    with pytest.raises(InvalidField):
        sign_alert(alert_body(danger=4), KEY_A, NOW)


@pytest.mark.parametrize(
    "changes",
    [
        {"indicators": ()},
        {"supersedes": bytes(32)},
        {"tlp": "RED", "hops": 0},
        {"hops": MAX_HOPS, "tlp": "GREEN"},
        {"hops": MAX_HOPS, "tlp": "CLEAR"},
        {"hops": 0, "tlp": "CLEAR"},
        {"description": ""},
        {"description": "é" * MAX_DESCRIPTION_CHARS},
        {"description": "tab\tand\nnewline are fine"},
        {"categories": CATEGORIES[:MAX_CATEGORIES]},
        {"region": "GB"},
        {"region": "FR-75"},
        {"region": "GB-ENG-LND"},
        {"lang": "pt-BR"},
        {"lang": "fra"},
        {"incident": "2025-01-02"},  # the day after created: time zones differ
        {"incident": OLDEST_INCIDENT.isoformat()},
        {"expires": CREATED + MAX_EXPIRY_S},
        {"indicators": (Indicator("phone", BLINDED_1, KEY_ID, 255),)},  # a future suite
        {"indicators": (PHONE_1, Indicator("email", BLINDED_1, KEY_ID, 1))},
        {"indicators": (PHONE_1, Indicator("phone", BLINDED_1, KEY_ID_2, 1))},  # two keys
        {
            "indicators": tuple(
                Indicator(INDICATOR_KINDS[i % 5], bytes([i]) * 32, KEY_ID, 1)
                for i in range(MAX_INDICATORS)
            )
        },
    ],
)
def test_edge_values_that_are_allowed(changes: dict[str, Any]) -> None:
    body = alert_body(**changes)
    assert verify_alert(signed(body.to_bytes()), NOW).body == body


# --- one test per field rule -------------------------------------------------------

BAD_ALERT_FIELDS: list[tuple[str, object]] = [
    ("v", DELETE),
    ("v", 1),
    ("v", 3),
    ("v", 0),
    ("v", "1"),
    ("v", True),
    ("origin", DELETE),
    ("origin", ORIGIN_A[:31]),
    ("origin", ORIGIN_A + b"\x00"),
    ("origin", ORIGIN_A.hex()),
    ("origin", None),
    ("created", DELETE),
    ("created", CREATED + 1),
    ("created", CREATED + 60),
    ("created", -HOUR_S),
    ("created", "2025-01-01T01:00:00Z"),
    ("created", 2**40),
    ("created", coarsen_hour(2**38)),  # past year 9999: must not crash the date check
    ("expires", DELETE),
    ("expires", None),
    ("expires", -1),
    ("expires", 2**40),
    ("incident", DELETE),
    ("incident", 20241230),
    ("incident", "2024-12-30T10:00"),
    ("incident", "2024-13-01"),
    ("incident", "2024-02-30"),
    ("incident", "30/12/2024"),
    ("incident", "2024-W52-1"),
    ("incident", "20241230  "),
    ("incident", "2024-12-3"),
    ("incident", "2025-01-03"),
    ("incident", (OLDEST_INCIDENT - datetime.timedelta(days=1)).isoformat()),
    ("region", DELETE),
    ("region", ""),
    ("region", "gb"),
    ("region", "GBR"),
    ("region", "GB\n"),
    ("region", "GB-"),
    ("region", "GB-LONDON1"),
    ("region", "GB-A-B-C"),
    ("region", "51.5,-0.12"),
    ("region", "X" * (MAX_REGION_CHARS + 1)),
    ("region", 44),
    ("categories", DELETE),
    ("categories", ()),
    ("categories", "violence"),
    ("categories", ("violence", "violence")),
    ("categories", ("murder",)),
    ("categories", ("Violence",)),
    ("categories", (1,)),
    ("categories", CATEGORIES[: MAX_CATEGORIES + 1]),
    ("danger", DELETE),
    ("danger", 0),
    ("danger", 4),
    ("danger", -1),
    ("danger", "3"),
    ("danger", True),
    ("indicators", DELETE),
    ("indicators", None),
    ("indicators", ((),)),
    ("indicators", (("phone", BLINDED_1),)),
    ("indicators", (("phone", BLINDED_1, None),)),  # the v1 shape
    ("indicators", (("phone", 1, KEY_ID, BLINDED_1, "23"),)),  # no hint any more
    ("indicators", ("phone",)),
    ("indicators", (("fax", 1, KEY_ID, BLINDED_1),)),
    ("indicators", (("PHONE", 1, KEY_ID, BLINDED_1),)),
    ("indicators", ((None, 1, KEY_ID, BLINDED_1),)),
    ("indicators", (("phone", 1, KEY_ID, BLINDED_1[:31]),)),
    ("indicators", (("phone", 1, KEY_ID, BLINDED_1.hex()),)),
    ("indicators", (("phone", 0, KEY_ID, BLINDED_1),)),
    ("indicators", (("phone", 256, KEY_ID, BLINDED_1),)),
    ("indicators", (("phone", True, KEY_ID, BLINDED_1),)),
    ("indicators", (("phone", "1", KEY_ID, BLINDED_1),)),
    ("indicators", (("phone", 1, KEY_ID[:7], BLINDED_1),)),
    ("indicators", (("phone", 1, KEY_ID.hex(), BLINDED_1),)),
    ("indicators", (("phone", 1, None, BLINDED_1),)),
    ("indicators", (("phone", 1, KEY_ID, BLINDED_1), ("phone", 1, KEY_ID, BLINDED_1))),
    (
        "indicators",
        tuple(("phone", 1, KEY_ID, bytes([i]) * 32) for i in range(MAX_INDICATORS + 1)),
    ),
    ("description", DELETE),
    ("description", None),
    ("description", b"text"),
    ("description", "x" * (MAX_DESCRIPTION_CHARS + 1)),
    ("description", "nul\x00byte"),
    ("description", "escape\x1b[2J"),
    ("description", "carriage\rreturn"),
    ("description", "delete\x7f"),
    ("description", "c1 control\x85"),
    ("lang", DELETE),
    ("lang", ""),
    ("lang", "EN"),
    ("lang", "english"),
    ("lang", "en\n"),
    ("lang", "en_GB"),
    ("lang", "e"),
    ("lang", "en-" + "x" * 14),
    ("lang", 1),
    ("hops", DELETE),
    ("hops", -1),
    ("hops", MAX_HOPS + 1),
    ("hops", "1"),
    ("hops", None),
    ("tlp", DELETE),
    ("tlp", "red"),
    ("tlp", "WHITE"),
    ("tlp", "TLP:RED"),
    ("tlp", None),
    ("tlp", 1),
    ("supersedes", DELETE),
    ("supersedes", b""),
    ("supersedes", bytes(31)),
    ("supersedes", bytes(32).hex()),
    ("nonce", DELETE),
    ("nonce", None),
    ("nonce", bytes(15)),
    ("nonce", bytes(17)),
    ("nonce", bytes(16).hex()),
    ("translations", DELETE),
    ("translations", None),
    ("translations", (("fr", "texte"),)),
    ("translations", {"fr": ""}),
    ("translations", {"fr": None}),
    ("translations", {"fr": "x" * (MAX_DESCRIPTION_CHARS + 1)}),
    ("translations", {"fr": "nul\x00"}),
    ("translations", {"FR": "texte"}),
    ("translations", {"french": "texte"}),
    ("translations", {"en": "the original's language again"}),
    ("translations", {"pt-BR": "um", "pt-br": "dois"}),
    ("partner_checks", DELETE),
    ("partner_checks", None),
    ("partner_checks", 0),
    ("partner_checks", "false"),
    ("ext", DELETE),
    ("ext", None),
    ("ext", ()),
    ("ext", {"nonamespace": 1}),
    ("ext", {"Org.Example:name": 1}),
    ("ext", {"example:name": 1}),
    ("ext", {"org.example:": 1}),
    ("must_understand", DELETE),
    ("must_understand", None),
    ("must_understand", {}),
    ("must_understand", ("org.example:absent",)),
    ("must_understand", ("not a key",)),
]


@pytest.mark.parametrize(("field", "value"), BAD_ALERT_FIELDS)
def test_each_invalid_alert_field_is_named(field: str, value: object) -> None:
    refused(signed(body_map(alert_body(), **{field: value})), field)


def test_every_alert_field_has_a_refusal_case() -> None:
    covered = {field for field, _ in BAD_ALERT_FIELDS}
    assert covered == set(body_map(alert_body()))


@pytest.mark.parametrize("label", TLP_LABELS)
def test_every_tlp_label_is_allowed_with_zero_hops(label: str) -> None:
    verify_alert(signed(alert_body(tlp=label, hops=0).to_bytes()), NOW)


@pytest.mark.parametrize("hops", range(1, MAX_HOPS + 1))
def test_red_alerts_never_leave_their_node(hops: int) -> None:
    exc = refused(signed(alert_body(tlp="RED", hops=hops).to_bytes()), "hops")
    assert "RED" in str(exc)


def test_an_unknown_field_is_malformed() -> None:
    with pytest.raises(MalformedObject, match="unknown fields in the alert: extra"):
        verify_alert(signed(body_map(alert_body(), extra=1)), NOW)


@pytest.mark.parametrize("body", [pack(()), pack(1), pack(None), pack("alert")])
def test_a_body_that_is_not_a_map_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedObject):
        verify_alert(signed(body), NOW)


def test_a_signed_but_non_canonical_body_is_malformed() -> None:
    canonical = alert_body().to_bytes()
    # danger is a positive fixint (0x03); a signer writes it as uint8 0xcc 0x03 instead.
    assert canonical.count(b"\xa6danger\x03") == 1
    longer = canonical.replace(b"\xa6danger\x03", b"\xa6danger\xcc\x03")
    with pytest.raises(MalformedObject, match="canonical"):
        verify_alert(signed(longer), NOW)


def test_a_signed_body_with_unsorted_keys_is_malformed() -> None:
    import msgpack

    value = body_map(alert_body())
    unsorted = msgpack.packb(dict(reversed(value.items())), use_bin_type=True)
    with pytest.raises(MalformedObject, match="canonical"):
        verify_alert(signed(unsorted), NOW)


def test_the_body_keys_are_sorted_on_the_wire() -> None:
    import msgpack

    keys = list(msgpack.unpackb(alert_body().to_bytes()))
    assert keys == sorted(keys)


# --- times -------------------------------------------------------------------------


def test_expiry_in_the_past_is_refused() -> None:
    data = signed(alert_body().to_bytes())
    verify_alert(data, EXPIRES - 1)
    refused(data, "expires", now=EXPIRES)
    refused(data, "expires", now=EXPIRES + DAY_S)


def test_expiry_must_follow_created_and_is_capped() -> None:
    refused(signed(alert_body(expires=CREATED).to_bytes()), "expires")
    refused(signed(alert_body(expires=CREATED - 1).to_bytes()), "expires")
    exc = refused(signed(alert_body(expires=CREATED + MAX_EXPIRY_S + 1).to_bytes()), "expires")
    assert "365 days" in str(exc)


def test_created_in_the_future_beyond_the_allowed_skew_is_refused() -> None:
    data = signed(alert_body().to_bytes())
    verify_alert(data, CREATED - MAX_CLOCK_SKEW_S)
    refused(data, "created", now=CREATED - MAX_CLOCK_SKEW_S - 1)
    refused(data, "created", now=CREATED - HOUR_S)


def test_coarsen_hour_rounds_down() -> None:
    assert coarsen_hour(CREATED + 3599) == CREATED
    assert coarsen_hour(CREATED) == CREATED
