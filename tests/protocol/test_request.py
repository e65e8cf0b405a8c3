"""Signed requests and the nonce window: every refusal, and the window's bound."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.card import b64url_decode, b64url_encode
from protocol.encoding import pack, unpack
from protocol.errors import (
    BadSignature,
    InvalidField,
    LimitExceeded,
    LocalProtocolError,
    MalformedObject,
    ProtocolError,
)
from protocol.request import (
    MAX_NONCES,
    MAX_PATH_CHARS,
    MAX_REQUEST_HEADER_CHARS,
    REQUEST_SKEW_S,
    NonceWindow,
    RequestAuth,
    sign_request,
    verify_request,
)
from protocol.signing import Envelope, Kind, parse_envelope

from . import KEY_A, NOW, ORIGIN_A, ORIGIN_B, signed

NONCE = bytes(range(16))
PATH = "/v1/changes?since=120&limit=1000"
BODY = b"\x83\xa5epoch\xc0\xa5limit\xcd\x03\xe8\xa5since\x78"
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GOLDEN_HEADER = (
    "lKdyZXF1ZXN0xCADoQe_884Qvh1w3RjnS8CZZ-TWMJulDV8d3IZkElUxuMTOiKRib2R5xCCPxsPx_TlW"
    "FACfRMAIJjADPvpA8iYgyfnCzhUeDD45EKRkZXN0xCAprLrhQbzK8LIuGpTTTQvHNh5SbQv-EsiXlLyT"
    "IpZt16ZtZXRob2SkUE9TVKVub25jZcQQAAECAwQFBgcICQoLDA0OD6ZvcmlnaW7EIAOhB7_zzhC-HXDd"
    "GOdLwJln5NYwm6UNXx3chmQSVTG4pHBhdGjZIC92MS9jaGFuZ2VzP3NpbmNlPTEyMCZsaW1pdD0xMDAw"
    "onRzzmd0mpihdgHEQOQJlLz1iS46cgIUNXZzPmfyromzyhNbFfHO7z7MRxTFOf__TI8V2DesFD1rhu5C"
    "SfnqHIk98mcWRCrhJyCshAA"
)


def header(**changes: Any) -> str:
    args: dict[str, Any] = {
        "key": KEY_A,
        "method": "POST",
        "path_and_query": PATH,
        "body": BODY,
        "destination": ORIGIN_B,
        "now": NOW,
        "nonce": NONCE,
    }
    args.update(changes)
    return sign_request(**args)


def verify(value: str, **changes: Any) -> RequestAuth:
    args: dict[str, Any] = {
        "method": "POST",
        "path_and_query": PATH,
        "body": BODY,
        "expected_destination": ORIGIN_B,
        "now": NOW,
    }
    args.update(changes)
    return verify_request(value, **args)


def auth_map(**changes: Any) -> dict[str, Any]:
    env = parse_envelope(b64url_decode(header(), "header"))
    value: dict[str, Any] = dict(unpack(env.body))
    value.update(changes)
    return value


def header_of(body: dict[str, Any], key: Any = KEY_A) -> str:
    return b64url_encode(signed(pack(body), Kind.REQUEST, key))


# --- the happy path ----------------------------------------------------------------


def test_a_signed_request_verifies_to_what_was_signed() -> None:
    auth = verify(header())
    assert auth == RequestAuth(
        "POST", PATH, hashlib.sha256(BODY).digest(), ORIGIN_A, ORIGIN_B, NOW, NONCE
    )


def test_golden_header() -> None:
    # Ed25519 is deterministic: fixed key, request, time and nonce give one header.
    assert header() == GOLDEN_HEADER
    assert len(GOLDEN_HEADER) == 423


@pytest.mark.parametrize("skew", [-REQUEST_SKEW_S, -1, 0, 1, REQUEST_SKEW_S])
def test_clock_skew_within_the_window_is_accepted(skew: int) -> None:
    assert verify(header(), now=NOW + skew).origin == ORIGIN_A


def test_get_with_an_empty_body() -> None:
    value = header(method="GET", path_and_query="/v1/card", body=b"")
    assert verify(value, method="GET", path_and_query="/v1/card", body=b"").nonce == NONCE


# --- refusals -----------------------------------------------------------------------


@pytest.mark.parametrize("skew", [-REQUEST_SKEW_S - 1, REQUEST_SKEW_S + 1, 3600])
def test_clock_skew_beyond_the_window_is_refused(skew: int) -> None:
    with pytest.raises(InvalidField) as info:
        verify(header(), now=NOW - skew)
    assert info.value.field == "timestamp"
    assert "check both clocks" in str(info.value)


def test_a_stricter_window_can_be_asked_for() -> None:
    with pytest.raises(InvalidField):
        verify(header(), now=NOW + 11, max_skew_s=10)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"expected_destination": ORIGIN_A}, "another node"),
        ({"method": "GET"}, "another method or path"),
        ({"path_and_query": "/v1/changes?since=0&limit=1000"}, "another method or path"),
        ({"path_and_query": "/v1/bodies"}, "another method or path"),
        ({"body": BODY + b"\x00"}, "body"),
        ({"body": b""}, "body"),
    ],
)
def test_a_signature_for_another_request_is_refused(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(BadSignature, match=match) as info:
        verify(header(), **changes)
    assert info.value.status_hint == 403


def test_a_changed_signature_is_refused() -> None:
    env = parse_envelope(b64url_decode(header(), "header"))
    bad = dataclasses.replace(env, sig=env.sig[:-1] + bytes([env.sig[-1] ^ 0x80]))
    with pytest.raises(BadSignature):
        verify(b64url_encode(bad.to_bytes()))


def test_a_tampered_body_byte_is_refused() -> None:
    env = parse_envelope(b64url_decode(header(), "header"))
    i = env.body.index(b"since=120")
    body = env.body[:i] + b"since=000" + env.body[i + 9 :]
    bad = Envelope(env.kind, env.signer, body, env.sig)
    with pytest.raises(BadSignature):
        verify(b64url_encode(bad.to_bytes()), path_and_query=PATH.replace("120", "000"))


def test_every_single_character_change_is_refused() -> None:
    value = header()
    for i in range(len(value)):
        ch = "A" if value[i] != "A" else "B"
        with pytest.raises(ProtocolError):
            verify(value[:i] + ch + value[i + 1 :])


def test_an_origin_other_than_the_signer_is_refused() -> None:
    with pytest.raises(BadSignature, match="origin"):
        verify(header_of(auth_map(origin=ORIGIN_B), KEY_A))


def test_another_kind_of_envelope_is_refused() -> None:
    with pytest.raises(MalformedObject, match="expected a request"):
        verify(b64url_encode(signed(pack(auth_map()), Kind.CARD)))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"method": "post"}, "method"),
        ({"method": "PO ST"}, "method"),
        ({"method": "POST\n"}, "method"),
        ({"path": "v1/changes"}, "path"),
        ({"path": "/v1/ch anges"}, "path"),
        ({"path": "/v1/changes\n"}, "path"),
        ({"path": "/" + "x" * MAX_PATH_CHARS}, "path"),
        ({"body": bytes(31)}, "body"),
        ({"dest": bytes(33)}, "dest"),
        ({"nonce": bytes(8)}, "nonce"),
        ({"ts": -1}, "ts"),
        ({"ts": True}, "ts"),
        ({"v": 2}, "v"),
    ],
)
def test_bad_fields_are_refused(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as info:
        verify(header_of(auth_map(**changes)))
    assert info.value.field == field


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(MalformedObject, match="unknown fields"):
        verify(header_of(auth_map(extra=0)))


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("", MalformedObject),
        ("not base64!", MalformedObject),
        ("AAAA", MalformedObject),
        ("A" * (MAX_REQUEST_HEADER_CHARS + 1), LimitExceeded),
    ],
)
def test_headers_that_do_not_decode_are_refused(value: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        verify(value)


def test_sign_request_refuses_what_a_receiver_would() -> None:
    with pytest.raises(LocalProtocolError):
        header(nonce=bytes(15))
    with pytest.raises(InvalidField):
        header(method="get")
    with pytest.raises(InvalidField):
        header(path_and_query="no-slash")
    with pytest.raises(InvalidField):
        header(destination=bytes(5))
    with pytest.raises(ProtocolError):
        header(now=-5)


# --- the nonce window ----------------------------------------------------------------


def test_a_replay_is_detected() -> None:
    window = NonceWindow()
    auth = verify(header())
    assert window.seen(auth.origin, auth.nonce, auth.timestamp, NOW) is False
    replay = verify(header(), now=NOW + 30)
    assert window.seen(replay.origin, replay.nonce, replay.timestamp, NOW + 30) is True


def test_the_same_nonce_from_another_origin_is_not_a_replay() -> None:
    window = NonceWindow()
    assert not window.seen(ORIGIN_A, NONCE, NOW, NOW)
    assert not window.seen(ORIGIN_B, NONCE, NOW, NOW)
    assert window.seen(ORIGIN_B, NONCE, NOW, NOW)


def test_entries_expire_once_their_timestamp_is_outside_the_window() -> None:
    window = NonceWindow()
    for i in range(10):
        assert not window.seen(ORIGIN_A, bytes([i]) * 16, NOW, NOW)
    assert len(window) == 10
    assert not window.seen(ORIGIN_A, bytes(16), NOW + 61, NOW + 61)
    assert len(window) == 1
    # A replay of an expired entry carries its old timestamp, and is refused as old.
    assert window.seen(ORIGIN_A, bytes([3]) * 16, NOW, NOW + 61)


def test_timestamps_outside_the_window_are_refused() -> None:
    window = NonceWindow()
    assert window.seen(ORIGIN_A, NONCE, NOW - REQUEST_SKEW_S - 1, NOW)
    assert window.seen(ORIGIN_A, NONCE, NOW + REQUEST_SKEW_S + 1, NOW)
    assert len(window) == 0


def test_a_full_window_never_lets_an_evicted_nonce_back_in() -> None:
    window = NonceWindow(max_nonces=4)
    for i in range(4):
        assert not window.seen(ORIGIN_A, bytes([i]) * 16, NOW + i, NOW + 5)
    # Full: a fifth request pushes out the oldest (signed at NOW) and raises the floor.
    assert not window.seen(ORIGIN_A, bytes([9]) * 16, NOW + 5, NOW + 5)
    assert len(window) == 4
    assert window.floor == NOW
    # The evicted request replayed is refused: it is at or below the floor.
    assert window.seen(ORIGIN_A, bytes([0]) * 16, NOW, NOW + 5)
    # So is a new request older than everything kept, rather than evicting newer ones.
    assert window.seen(ORIGIN_B, bytes([7]) * 16, NOW + 1, NOW + 5)
    # Requests signed after the floor are still accepted, and still checked.
    assert not window.seen(ORIGIN_B, bytes([8]) * 16, NOW + 6, NOW + 6)
    assert window.seen(ORIGIN_B, bytes([8]) * 16, NOW + 6, NOW + 6)


def test_the_window_stays_bounded_under_100k_inserts() -> None:
    window = NonceWindow()
    accepted = 0
    for i in range(100_000):
        now = NOW + i // 2000  # 2000 requests a second: a flood
        if not window.seen(ORIGIN_A, i.to_bytes(16, "big"), now, now):
            accepted += 1
        assert len(window) <= MAX_NONCES
    assert len(window) == MAX_NONCES
    assert accepted > 90_000  # a flood costs only requests at or below the floor
    assert len(window._by_time) == len(window)


def test_the_window_empties_when_traffic_stops() -> None:
    window = NonceWindow(max_nonces=1000)
    for i in range(5000):
        window.seen(ORIGIN_A, i.to_bytes(16, "big"), NOW + i // 100, NOW + i // 100)
    window.seen(ORIGIN_A, bytes(16), NOW + 1000, NOW + 1000)
    assert len(window) == 1


def test_a_window_must_hold_something() -> None:
    with pytest.raises(LocalProtocolError):
        NonceWindow(max_nonces=0)


# --- only protocol errors ------------------------------------------------------------


@QUICK
@given(st.text(max_size=600))
def test_arbitrary_header_text_raises_only_protocol_errors(value: str) -> None:
    with pytest.raises(ProtocolError):
        verify(value)


@QUICK
@given(st.binary(max_size=400))
def test_arbitrary_signed_bodies_raise_only_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        verify(b64url_encode(signed(body, Kind.REQUEST)))


@QUICK
@given(
    st.sampled_from(sorted(auth_map())),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        st.text(max_size=40),
        st.binary(max_size=70),
    ),
)
def test_one_arbitrary_field_raises_only_protocol_errors(field: str, value: Any) -> None:
    with pytest.raises(ProtocolError):
        verify(header_of(auth_map(**{field: value})), body=b"not the body")
