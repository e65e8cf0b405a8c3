"""Indicator normalisation and blinding: one canonical text per identifier, or a clear error;
blinding that nobody without the network key can reproduce."""

from __future__ import annotations

import hashlib
import inspect
import itertools

import nacl.pwhash.argon2id as argon2id
import pytest

from protocol.errors import InvalidIndicator, LocalProtocolError
from protocol.fields import INDICATOR_KINDS
from protocol.indicators import (
    BLIND_MEMLIMIT_BYTES,
    BLIND_OPSLIMIT,
    BLINDED_BYTES,
    KEY_ID_BYTES,
    SUITE,
    SUITES,
    NetworkKey,
    blind,
    blind_normalised,
    current_key,
    key_id,
    kind_salt,
    normalise,
    prehash,
)

KEY = NetworkKey(bytes(range(32)))
OTHER_KEY = NetworkKey(bytes(range(1, 33)))


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
    blinded = {blind("phone", text, KEY, "GB") for text in GB_FORMS[:3]}
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
        blind(kind, "something", KEY)


@pytest.mark.parametrize("kind", INDICATOR_KINDS)
def test_overlong_or_non_text_input_is_refused(kind: str) -> None:
    with pytest.raises(InvalidIndicator):
        normalise(kind, "7" * 513, "GB")
    with pytest.raises(InvalidIndicator):
        normalise(kind, 447700900123, "GB")  # type: ignore[arg-type]


def test_invalid_indicator_is_a_local_error() -> None:
    assert issubclass(InvalidIndicator, LocalProtocolError)


# --- blinding ----------------------------------------------------------------------


def test_salts_are_distinct_per_kind_and_per_key() -> None:
    salts = [kind_salt(kind, k) for kind in INDICATOR_KINDS for k in (KEY, OTHER_KEY)]
    assert all(len(salt) == 16 for salt in salts)
    assert len(set(salts)) == 2 * len(INDICATOR_KINDS)


def test_the_same_text_blinds_differently_under_different_kinds() -> None:
    assert prehash("other", "somebody", KEY) != prehash("email", "somebody", KEY)
    assert blind_normalised("other", "somebody", KEY) != blind_normalised("email", "somebody", KEY)


def test_blinding_is_deterministic_and_distinguishes_values() -> None:
    one = blind("plate", "AB12 CDE", KEY)
    assert one == blind("plate", "ab12cde", KEY)
    assert one != blind("plate", "AB12 CDF", KEY)


def test_blinding_costs_at_least_64_mib_a_guess() -> None:
    assert BLIND_MEMLIMIT_BYTES >= 64 * 1024 * 1024
    # Suite 2 (new alerts): four passes, where suite 1 fell under 2 CPU-years for 10^9
    # guesses on a faster core (docs/threat-model.md).
    assert (SUITE, BLIND_OPSLIMIT) == (2, 4)
    for opslimit, memlimit in SUITES.values():
        assert memlimit >= 64 * 1024 * 1024 and opslimit >= 3


def test_each_suite_blinds_to_its_own_value() -> None:
    one = blind("plate", "AB12 CDE", KEY, suite=1)
    two = blind("plate", "AB12 CDE", KEY, suite=2)
    assert one != two and blind("plate", "AB12 CDE", KEY) == two
    with pytest.raises(InvalidIndicator):
        blind("plate", "AB12 CDE", KEY, suite=255)


# --- what an outsider without the network key can do (issue 11.4) -------------------


def test_blinding_cannot_be_called_without_a_network_key() -> None:
    for fn in (blind, blind_normalised, prehash, kind_salt):
        param = inspect.signature(fn).parameters["key"]
        assert param.default is inspect.Parameter.empty, fn.__name__
    with pytest.raises(TypeError):
        blind("phone", "+447700900123")  # type: ignore[call-arg]


def test_an_outsider_with_every_public_value_cannot_reproduce_a_blinded_value() -> None:
    """Everything public: the canonical text (the right guess), the kind, the suite's
    parameters, the key id. Every way to compute a value without the secret misses."""
    text = "+447700900123"
    real = blind_normalised("phone", text, KEY)
    public_salt = hashlib.blake2b(b"alertnode:v1:indicator:phone", digest_size=16).digest()
    key_id_salt = KEY.key_id + bytes(16 - KEY_ID_BYTES)
    guesses = {
        # v1: Argon2id of the text under the public per-kind salt (old and new costs).
        argon2id.kdf(32, text.encode(), public_salt, opslimit=2, memlimit=32 * 1024 * 1024),
        argon2id.kdf(
            32, text.encode(), public_salt, opslimit=BLIND_OPSLIMIT, memlimit=BLIND_MEMLIMIT_BYTES
        ),
        # Keyed by what is public: the key id, or no key at all.
        argon2id.kdf(
            32, text.encode(), key_id_salt, opslimit=BLIND_OPSLIMIT, memlimit=BLIND_MEMLIMIT_BYTES
        ),
        blind_normalised("phone", text, NetworkKey(KEY.key_id * 4)),
        blind_normalised("phone", text, NetworkKey(bytes(32))),
        # Another network's key.
        blind_normalised("phone", text, OTHER_KEY),
    }
    assert real not in guesses


def test_prehash_is_keyed() -> None:
    text = "+447700900123"
    unkeyed = hashlib.blake2b(b"phone\x00" + text.encode(), digest_size=32).digest()
    assert prehash("phone", text, KEY) not in {unkeyed, prehash("phone", text, OTHER_KEY)}


# --- network keys --------------------------------------------------------------------


def test_key_id_is_eight_bytes_of_a_hash_of_the_secret() -> None:
    assert len(KEY.key_id) == KEY_ID_BYTES == 8
    assert KEY.key_id == key_id(KEY.secret) != OTHER_KEY.key_id
    assert KEY.key_id not in KEY.secret


def test_a_network_key_never_shows_its_secret() -> None:
    secret = bytes(range(32))
    for text in (repr(NetworkKey(secret)), str(NetworkKey(secret, 3))):
        assert secret.hex() not in text and repr(secret) not in text


@pytest.mark.parametrize(
    ("secret", "epoch"), [(bytes(31), 0), (bytes(33), 0), (bytes(32), -1), (bytes(32), 2**32)]
)
def test_a_malformed_network_key_is_refused(secret: bytes, epoch: int) -> None:
    with pytest.raises(InvalidIndicator):
        NetworkKey(secret, epoch)


def test_current_key_is_highest_epoch_then_lowest_key_id_in_any_order() -> None:
    keys = [NetworkKey(bytes([i]) * 32, epoch) for i, epoch in enumerate([0, 0, 0, 1, 1])]
    expected = min(keys[3:], key=lambda k: k.key_id)
    for order in itertools.permutations(keys):
        assert current_key(order) == expected
    oldest = keys[:3]
    assert current_key(oldest) == min(oldest, key=lambda k: k.key_id)


def test_current_key_of_no_keys_is_an_error() -> None:
    with pytest.raises(InvalidIndicator, match="no network blinding key"):
        current_key([])
