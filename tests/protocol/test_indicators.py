"""Indicator normalisation and blinding: one canonical text per identifier, or a clear error."""

from __future__ import annotations

import pytest

from protocol.errors import InvalidIndicator, LocalProtocolError
from protocol.fields import INDICATOR_KINDS
from protocol.indicators import (
    BLINDED_BYTES,
    blind,
    blind_normalised,
    hint_for,
    kind_salt,
    normalise,
)


def assert_clear(exc: InvalidIndicator) -> None:
    """An indicator error is a sentence for a person, not a library's message."""
    message = str(exc)
    assert len(message.split()) >= 4, message
    assert "Exception" not in message and "(" not in message, message


# --- phone -------------------------------------------------------------------------

GB_FORMS = ["07700 900123", "+44 7700 900123", "0044-7700-900-123", "(07700) 900-123"]


@pytest.mark.parametrize("text", GB_FORMS)
def test_gb_phone_forms_normalise_to_e164(text: str) -> None:
    assert normalise("phone", text, "GB") == "+447700900123"


def test_gb_phone_forms_blind_equal() -> None:
    blinded = {blind("phone", text, "GB") for text in GB_FORMS[:3]}
    assert len(blinded) == 1
    assert len(blinded.pop()) == BLINDED_BYTES


def test_international_form_needs_no_default_region() -> None:
    assert normalise("phone", "+44 7700 900123") == "+447700900123"
    assert normalise("phone", "+33 6 12 34 56 78", "GB") == "+33612345678"


def test_default_region_is_case_insensitive() -> None:
    assert normalise("phone", "07700 900123", "gb") == "+447700900123"


@pytest.mark.parametrize("text", ["12", "abc", "", "   ", "+", "0770090012345678901"])
def test_malformed_phone_numbers_are_refused_clearly(text: str) -> None:
    with pytest.raises(InvalidIndicator) as info:
        normalise("phone", text, "GB")
    assert_clear(info.value)
    assert "phone number" in str(info.value)


def test_national_form_without_a_default_region_asks_for_the_country_code() -> None:
    with pytest.raises(InvalidIndicator, match="country code"):
        normalise("phone", "07700 900123")


def test_too_few_digits_says_so() -> None:
    with pytest.raises(InvalidIndicator, match="wrong number of digits"):
        normalise("phone", "12", "GB")


# --- e-mail, handle, plate, other --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("client@example.org", "client@example.org"),
        ("  Client.Name@Example.ORG ", "client.name@example.org"),
        ("CLIENT+tag@mail.example.co.uk", "client+tag@mail.example.co.uk"),
        ("\uff43\uff4c\uff49\uff45\uff4e\uff54@example.org", "client@example.org"),  # NFKC
    ],
)
def test_email_normalisation(text: str, expected: str) -> None:
    assert normalise("email", text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "client", "client@", "@example.org", "client@example", "a b@example.org",
     "client@-example.org", "client@example..org", "x" * 65 + "@example.org",
     "client@" + "a" * 250 + ".org"],
)  # fmt: skip
def test_bad_emails_are_refused(text: str) -> None:
    with pytest.raises(InvalidIndicator) as info:
        normalise("email", text)
    assert_clear(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("instagram:somebody", "instagram:somebody"),
        ("Instagram:@Some_Body", "instagram:some_body"),
        ("  twitter : @x ", "twitter:x"),
        ("only.fans:Name.With.Dots", "only.fans:name.with.dots"),
    ],
)
def test_handle_normalisation(text: str, expected: str) -> None:
    assert normalise("handle", text) == expected


@pytest.mark.parametrize(
    "text", ["somebody", ":somebody", "instagram:", "insta gram:x", "ig:two words", "ig:a:b"]
)
def test_bad_handles_are_refused(text: str) -> None:
    with pytest.raises(InvalidIndicator, match="platform:name") as info:
        normalise("handle", text)
    assert_clear(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AB12 CDE", "AB12CDE"),
        ("ab12cde", "AB12CDE"),
        ("AB-12-CD", "AB12CD"),
        (" b.123·xyz ", "B123XYZ"),
    ],
)
def test_plate_normalisation(text: str, expected: str) -> None:
    assert normalise("plate", text) == expected


@pytest.mark.parametrize("text", ["", "A", "AB12CDE!", "ÄB12", "X" * 13])
def test_bad_plates_are_refused(text: str) -> None:
    with pytest.raises(InvalidIndicator) as info:
        normalise("plate", text)
    assert_clear(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Drives a  Red VAN ", "drives a red van"),
        ("Straße", "strasse"),  # casefold, not lower
        ("tab\tand\nnewline", "tab and newline"),
    ],
)
def test_other_normalisation(text: str, expected: str) -> None:
    assert normalise("other", text) == expected


@pytest.mark.parametrize("text", ["", "ab", "  a  ", " \t\n ", "x" * 129])
def test_bad_others_are_refused(text: str) -> None:
    with pytest.raises(InvalidIndicator) as info:
        normalise("other", text)
    assert_clear(info.value)


# --- any kind ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fax", "", "PHONE", "e-mail"])
def test_unknown_kind_is_refused(kind: str) -> None:
    with pytest.raises(InvalidIndicator, match="unknown indicator kind") as info:
        normalise(kind, "something")
    for known in INDICATOR_KINDS:
        assert known in str(info.value)
    with pytest.raises(InvalidIndicator):
        blind(kind, "something")


@pytest.mark.parametrize("kind", INDICATOR_KINDS)
def test_overlong_or_non_text_input_is_refused(kind: str) -> None:
    with pytest.raises(InvalidIndicator):
        normalise(kind, "7" * 513, "GB")
    with pytest.raises(InvalidIndicator):
        normalise(kind, 447700900123, "GB")  # type: ignore[arg-type]


def test_invalid_indicator_is_a_local_error() -> None:
    assert issubclass(InvalidIndicator, LocalProtocolError)


# --- blinding ----------------------------------------------------------------------


def test_salts_are_fixed_and_distinct_per_kind() -> None:
    salts = {kind: kind_salt(kind) for kind in INDICATOR_KINDS}
    assert all(len(salt) == 16 for salt in salts.values())
    assert len(set(salts.values())) == len(INDICATOR_KINDS)


def test_the_same_text_blinds_differently_under_different_kinds() -> None:
    assert blind_normalised("other", "somebody") != blind_normalised("email", "somebody")


def test_blinding_is_deterministic_and_distinguishes_values() -> None:
    one = blind("plate", "AB12 CDE")
    assert one == blind("plate", "ab12cde")
    assert one != blind("plate", "AB12 CDF")


def test_hint_is_the_tail_of_the_normalised_value() -> None:
    assert hint_for("phone", "+447700900123") == "23"
    assert hint_for("phone", "+447700900123", 4) == "0123"
    for chars in (0, 5):
        with pytest.raises(InvalidIndicator):
            hint_for("phone", "+447700900123", chars)
