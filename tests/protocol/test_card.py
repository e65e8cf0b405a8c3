"""Node cards and the short authentication string: every rule and invariant once each."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.card import (
    CARD_TEXT_PREFIX,
    MAX_CARD_PINS,
    MAX_CARD_TEXT_CHARS,
    MAX_CARD_URLS,
    MAX_CARD_VALIDITY_S,
    MAX_URL_CHARS,
    NodeCard,
    VerifiedCard,
    check_url,
    encode_card_text,
    is_loopback_url,
    is_onion_url,
    parse_card_text,
    short_auth_string,
    sign_card,
    verify_card,
)
from protocol.encoding import pack, unpack
from protocol.errors import (
    BadSignature,
    InvalidField,
    LimitExceeded,
    LocalProtocolError,
    MalformedObject,
    ProtocolError,
)
from protocol.limits import DAY_S, HOUR_S, MAX_CLOCK_SKEW_S, MAX_NAME_CHARS
from protocol.signing import Envelope, Kind

from . import CREATED, KEY_A, KEY_B, NOW, ORIGIN_A, ORIGIN_B, signed

FINGERPRINT = hashlib.sha256(b"a DER certificate").digest()
URL = "https://node.example.org:8443"
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def onion_host(seed: int) -> str:
    """A valid v3 onion host name (checksum and version right)."""
    pubkey = hashlib.sha256(bytes([seed])).digest()
    checksum = hashlib.sha3_256(b".onion checksum" + pubkey + b"\x03").digest()[:2]
    return base64.b32encode(pubkey + checksum + b"\x03").decode().lower() + ".onion"


ONION = "http://" + onion_host(1)


def card(**changes: Any) -> NodeCard:
    fields: dict[str, Any] = {
        "name": "Ugly Mugs Test",
        "key": ORIGIN_A,
        "urls": (URL, ONION + ":80"),
        "pins": (FINGERPRINT,),
        "created": CREATED,
        "expires": CREATED + 365 * DAY_S,
    }
    fields.update(changes)
    return NodeCard(**fields)


def card_map(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = dict(unpack(card().to_bytes()))
    value.update(changes)
    return value


def refused(data: bytes, field: str, now: int = NOW) -> InvalidField:
    with pytest.raises(InvalidField) as info:
        verify_card(data, now)
    assert info.value.field == field
    assert len(str(info.value).split()) >= 4
    return info.value


# --- the happy path ----------------------------------------------------------------


def test_a_signed_card_verifies_to_an_equal_body() -> None:
    verified = sign_card(card(), KEY_A, NOW)
    again = verify_card(verified.envelope.to_bytes(), NOW)
    assert again.body == card()
    assert again.key == ORIGIN_A
    assert again.id == verified.id


def test_card_text_round_trips_and_survives_whitespace() -> None:
    verified = sign_card(card(), KEY_A, NOW)
    text = encode_card_text(verified.envelope)
    assert parse_card_text(text, NOW).body == card()
    assert parse_card_text(f"  \n{text}\r\n\t", NOW).body == card()
    wrapped = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    assert parse_card_text(wrapped, NOW).body == card()


@pytest.mark.parametrize(
    "changes",
    [
        {"urls": (ONION,)},
        {"urls": ("http://127.0.0.1:8444",)},
        {"urls": ("http://[::1]:8444/fed",)},
        {"pins": tuple(sorted(hashlib.sha256(bytes([i])).digest() for i in range(MAX_CARD_PINS)))},
        {"versions": (1, 2, 3), "caps": ("feed", "org.example:colour")},
        {"caps": ()},
        {"urls": ("http://localhost:8444",)},
        {"urls": ("https://" + onion_host(2) + ":443",)},
        {"urls": ("https://203.0.113.5:8443/alertnode",)},
        {"urls": ("https://[2001:db8::1]:8443",)},
        {"urls": tuple(f"https://n{i}.example.org" for i in range(MAX_CARD_URLS))},
        {"urls": ("https://n.example.org/" + "p" * (MAX_URL_CHARS - 22),)},
        {"name": "é" * MAX_NAME_CHARS},
        {"expires": CREATED + MAX_CARD_VALIDITY_S},
    ],
)
def test_valid_variations_are_accepted(changes: dict[str, Any]) -> None:
    assert sign_card(card(**changes), KEY_A, NOW).body == card(**changes)


# --- signature and framing -----------------------------------------------------------


def test_a_card_signed_by_another_key_is_refused() -> None:
    # The card names ORIGIN_A but KEY_B signed it: the signature checks out under
    # ORIGIN_B, and the body must then name its signer.
    refused(signed(card().to_bytes(), Kind.CARD, KEY_B), "key")


def test_a_changed_signature_is_refused() -> None:
    env = sign_card(card(), KEY_A, NOW).envelope
    bad = dataclasses.replace(env, sig=bytes([env.sig[0] ^ 1]) + env.sig[1:])
    with pytest.raises(BadSignature):
        verify_card(bad.to_bytes(), NOW)


def test_a_tampered_body_byte_is_refused() -> None:
    env = sign_card(card(), KEY_A, NOW).envelope
    i = env.body.index(b"Ugly")
    body = env.body[:i] + b"Ugli" + env.body[i + 4 :]
    with pytest.raises(BadSignature):
        verify_card(dataclasses.replace(env, body=body).to_bytes(), NOW)


def test_every_single_byte_change_to_card_text_is_refused() -> None:
    text = sign_card(card(), KEY_A, NOW).to_text()
    start = len(CARD_TEXT_PREFIX)
    for i in range(start, len(text)):
        ch = "A" if text[i] != "A" else "B"
        with pytest.raises(ProtocolError):
            parse_card_text(text[:i] + ch + text[i + 1 :], NOW)


def test_another_kind_is_not_a_card() -> None:
    env = Envelope(Kind.ALERT, ORIGIN_A, b"", bytes(64))
    with pytest.raises(LocalProtocolError):
        encode_card_text(env)
    with pytest.raises(MalformedObject, match="expected a card"):
        verify_card(signed(card().to_bytes(), Kind.ROTATION), NOW)


def test_a_verified_card_is_made_only_by_verify() -> None:
    verified = sign_card(card(), KEY_A, NOW)
    with pytest.raises(LocalProtocolError):
        VerifiedCard(verified.envelope, card(), object())
    with pytest.raises(LocalProtocolError):
        dataclasses.replace(verified, body=card(name="Someone else"))


def test_sign_card_refuses_another_nodes_key() -> None:
    with pytest.raises(LocalProtocolError):
        sign_card(card(key=ORIGIN_B), KEY_A, NOW)


# --- the text form -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "should start with"),
        ("hello", "should start with"),
        ("alertnode-card:1:AAAA", "update alertnode"),
        (CARD_TEXT_PREFIX + "a+b/", "not valid base64url"),
        (CARD_TEXT_PREFIX + "AAAA=", "not valid base64url"),
        (CARD_TEXT_PREFIX + "A", "not valid base64url"),
        (CARD_TEXT_PREFIX + "AB", "not canonical"),  # low bits of the last char set
        (CARD_TEXT_PREFIX + "AA", "envelope is an array"),
    ],
)
def test_card_text_that_is_not_a_card_is_refused(text: str, match: str) -> None:
    with pytest.raises(MalformedObject, match=match):
        parse_card_text(text, NOW)


def test_overlong_card_text_is_refused_before_decoding() -> None:
    with pytest.raises(LimitExceeded):
        parse_card_text(CARD_TEXT_PREFIX + "A" * MAX_CARD_TEXT_CHARS, NOW)
    with pytest.raises(LimitExceeded):
        parse_card_text(" " * (3 * MAX_CARD_TEXT_CHARS), NOW)


def test_an_oversized_envelope_is_refused() -> None:
    data = signed(pack(card_map(name="x" * 3000)), Kind.CARD)
    with pytest.raises(LimitExceeded):
        verify_card(data, NOW)


# --- fields -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * (MAX_NAME_CHARS + 1)}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"name": "bell\x07"}, "name"),
        ({"key": ORIGIN_A[:31]}, "key"),
        ({"urls": ()}, "urls"),
        ({"urls": tuple(f"https://n{i}.example.org" for i in range(MAX_CARD_URLS + 1))}, "urls"),
        ({"urls": (URL, URL)}, "urls"),
        ({"urls": (7,)}, "urls"),
        ({"urls": "https://a.example.org"}, "urls"),
        ({"pins": ()}, "pins"),  # at least one TLS key pin
        ({"pins": (FINGERPRINT[:20],)}, "pins"),
        ({"pins": (FINGERPRINT, FINGERPRINT)}, "pins"),
        ({"pins": (b"\xff" * 32, b"\x00" * 32)}, "pins"),  # not sorted
        ({"pins": tuple(bytes([i]) * 32 for i in range(MAX_CARD_PINS + 1))}, "pins"),
        ({"versions": ()}, "versions"),
        ({"versions": (3, 2)}, "versions"),
        ({"versions": (0,)}, "versions"),
        ({"versions": (1,)}, "versions"),  # no version in common with this node
        ({"caps": ("Feed",)}, "caps"),
        ({"caps": ("poke", "feed")}, "caps"),
        ({"ext": {"colour": 1}}, "ext"),  # not namespaced
        ({"ext": [1]}, "ext"),
        ({"must_understand": ("org.example:x",)}, "must_understand"),  # not in ext
        ({"created": CREATED + 60}, "created"),
        ({"created": CREATED + 2 * HOUR_S + MAX_CLOCK_SKEW_S}, "created"),
        ({"expires": CREATED}, "expires"),
        ({"expires": CREATED + MAX_CARD_VALIDITY_S + HOUR_S}, "expires"),
        ({"v": 1}, "v"),
    ],
)
def test_bad_fields_are_refused(changes: dict[str, Any], field: str) -> None:
    refused(signed(pack(card_map(**changes)), Kind.CARD), field)


def test_unknown_and_missing_fields_are_refused() -> None:
    with pytest.raises(MalformedObject, match="unknown fields"):
        verify_card(signed(pack(card_map(extra=1)), Kind.CARD), NOW)
    value = card_map()
    del value["pins"]
    refused(signed(pack(value), Kind.CARD), "pins")


def test_an_expired_card_is_refused_with_its_date() -> None:
    verified = sign_card(card(), KEY_A, NOW)
    exc = refused(verified.envelope.to_bytes(), "expires", now=card().expires)
    assert "expired on 2026-01-01" in str(exc)
    with pytest.raises(InvalidField, match="expired"):
        parse_card_text(verified.to_text(), card().expires + DAY_S)


# --- URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org:8080",  # plain http to a public host
        "http://203.0.113.5",
        "ftp://node.example.org",
        "HTTPS://node.example.org",
        "https:/node.example.org",
        "https://",
        "https://:8443",
        "https://node.example.org:",
        "https://node.example.org:0",
        "https://node.example.org:65536",
        "https://node.example.org:08443",
        "https://node.example.org:+80",
        "https://user:pw@node.example.org",
        "https://node.example.org/x?y=1",
        "https://node.example.org/#top",
        "https://node example.org",
        "https://node.example.org\n",
        "https://-node.example.org",
        "https://node_x.example.org",
        "https://127.1",  # resolvers read this as 127.0.0.1
        "https://999.0.0.1",
        "https://[fe80::1%25eth0]",
        "https://[::1",
        "http://" + "a" * 16 + ".onion",  # v2 onion: gone from Tor
        "http://" + onion_host(1)[:-7].replace("a", "b", 1) + ".onion",  # bad checksum
        "http://x." + onion_host(1),
        "https://n.example.org/" + "p" * MAX_URL_CHARS,
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidField) as info:
        check_url("urls", url)
    assert info.value.field == "urls"
    if url.startswith("http://example") or url.startswith("http://203"):
        assert "use https" in str(info.value)


@pytest.mark.parametrize(
    ("url", "loopback", "onion"),
    [
        ("http://127.0.0.1:8444", True, False),
        ("http://127.9.8.7", True, False),
        ("https://[::1]:8443/x", True, False),
        ("http://localhost:1", True, False),
        ("http://LOCALHOST:1", True, False),
        ("https://node.example.org", False, False),
        ("https://128.0.0.1", False, False),
        ("http://[::ffff:127.0.0.1]", False, False),  # fail closed
        ("http://127.1", False, False),
        (ONION, False, True),
        ("not a url", False, False),
        ("", False, False),
    ],
)
def test_loopback_and_onion_urls_are_told_apart(url: str, loopback: bool, onion: bool) -> None:
    assert is_loopback_url(url) is loopback
    assert is_onion_url(url) is onion


# --- the short authentication string -----------------------------------------------


def test_sas_is_the_same_for_both_admins() -> None:
    assert short_auth_string(ORIGIN_A, ORIGIN_B) == short_auth_string(ORIGIN_B, ORIGIN_A)


def test_sas_differs_for_different_keys() -> None:
    keys = [hashlib.sha256(bytes([i])).digest() for i in range(200)]
    strings = {short_auth_string(ORIGIN_A, key) for key in keys}
    assert len(strings) >= 195  # six digits: a handful of collisions in 200 is chance
    for sas in strings:
        assert len(sas) == 7 and sas[3] == " " and sas.replace(" ", "").isdigit()


def test_sas_refuses_self_pairing_and_bad_keys() -> None:
    with pytest.raises(LocalProtocolError):
        short_auth_string(ORIGIN_A, ORIGIN_A)
    with pytest.raises(LocalProtocolError):
        short_auth_string(ORIGIN_A, ORIGIN_B[:31])


# --- only protocol errors ------------------------------------------------------------


@QUICK
@given(st.text(max_size=400))
def test_arbitrary_text_raises_only_protocol_errors(text: str) -> None:
    for candidate in (text, CARD_TEXT_PREFIX + text):
        try:
            parse_card_text(candidate, NOW)
        except ProtocolError:
            continue
        raise AssertionError("arbitrary text parsed as a card")


@QUICK
@given(st.binary(max_size=600))
def test_arbitrary_bodies_raise_only_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        verify_card(signed(body, Kind.CARD), NOW)
    with pytest.raises(ProtocolError):
        verify_card(body, NOW)


@QUICK
@given(
    st.sampled_from(sorted(card_map())),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        st.text(max_size=40),
        st.binary(max_size=70),
        st.lists(st.text(max_size=300), max_size=6).map(tuple),
    ),
)
def test_one_arbitrary_field_raises_only_protocol_errors(field: str, value: Any) -> None:
    with contextlib.suppress(ProtocolError):
        verify_card(signed(pack(card_map(**{field: value})), Kind.CARD), NOW)
