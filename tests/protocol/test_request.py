"""Signed requests and the nonce window: every refusal, and the window's bound."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import nacl.signing
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
from protocol.feed import (
    MAX_FEED_ENTRIES,
    ChangesRequest,
    ChangesResponse,
    encode_changes_request,
    encode_changes_response,
)
from protocol.request import (
    MAX_PATH_CHARS,
    MAX_REQUEST_HEADER_CHARS,
    REQUEST_SKEW_S,
    RequestAuth,
    sign_request,
    verify_request,
)
from protocol.signing import Kind

from . import KEY_A, KEY_B, NOW, ORIGIN_A, ORIGIN_B, SEED_A

# The golden request (tests/vectors/request.json, written by tests/vectors/make_vectors.py):
# a changes request to a node whose card URL is https://host/alerts/, signed at NOW.
VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "request.json").read_text())
GOLDEN = VECTORS["cases"][1]
NONCE = bytes.fromhex(VECTORS["nonce_hex"])
PATH = GOLDEN["path"]
BODY = bytes.fromhex(GOLDEN["body_hex"])
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GOLDEN_HEADER = GOLDEN["header"]
# What GOLDEN_HEADER's signature covers, after the domain tag "alertnode:v2:request:".
GOLDEN_MESSAGE = bytes.fromhex(GOLDEN["message_hex"])
# The header this module used before: the whole envelope, 423 characters.
OLD_ENVELOPE_HEADER = (
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


def items(value: str | None = None) -> list[Any]:
    """The header's items: [version, signer, ts, nonce, sig]."""
    return list(unpack(b64url_decode(header() if value is None else value, "header")))


def header_of(values: Any) -> str:
    return b64url_encode(pack(values))


def with_item(index: int, value: Any) -> str:
    values = items()
    values[index] = value
    return header_of(values)


def signed_header(
    kind: Kind = Kind.REQUEST, key: nacl.signing.SigningKey = KEY_A, **changes: Any
) -> str:
    """A header whose signature covers the golden request with ``changes`` applied."""
    fields: dict[str, Any] = {
        "method": "POST",
        "path_and_query": PATH,
        "body_sha256": hashlib.sha256(BODY).digest(),
        "origin": ORIGIN_A,
        "destination": ORIGIN_B,
        "timestamp": NOW,
        "nonce": NONCE,
    }
    fields.update(changes)
    sig = key.sign(kind.tag + RequestAuth(**fields).to_bytes()).signature
    return header_of((1, ORIGIN_A, NOW, NONCE, sig))


# --- the happy path ----------------------------------------------------------------


def test_a_signed_request_verifies_to_what_was_signed() -> None:
    auth = verify(header())
    assert auth == RequestAuth(
        "POST", PATH, hashlib.sha256(BODY).digest(), ORIGIN_A, ORIGIN_B, NOW, NONCE
    )


def test_golden_header() -> None:
    # Ed25519 is deterministic: fixed key, request, time and nonce give one header.
    assert (VECTORS["seed_hex"], VECTORS["dest_hex"]) == (SEED_A.hex(), ORIGIN_B.hex())
    assert VECTORS["ts"] == NOW
    assert header() == GOLDEN_HEADER
    assert len(GOLDEN_HEADER) == 167
    assert items(GOLDEN_HEADER)[:4] == [1, ORIGIN_A, NOW, NONCE]


def test_golden_signed_message() -> None:
    auth = verify(GOLDEN_HEADER)
    assert auth.to_bytes() == GOLDEN_MESSAGE
    sig = items(GOLDEN_HEADER)[4]
    nacl.signing.VerifyKey(ORIGIN_A).verify(b"alertnode:v2:request:" + GOLDEN_MESSAGE, sig)


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_every_request_vector(case: dict[str, str]) -> None:
    """The JSON vectors, recomputed from docs/protocol.md section 8 by hand: the
    message map, then Ed25519 over the tag and the message, then the header array."""
    body = bytes.fromhex(case["body_hex"])
    message = pack(
        {
            "v": 1,
            "method": case["method"],
            "path": case["path"],
            "body": hashlib.sha256(body).digest(),
            "origin": ORIGIN_A,
            "dest": ORIGIN_B,
            "ts": NOW,
            "nonce": NONCE,
        }
    )
    assert message.hex() == case["message_hex"]
    assert VECTORS["tag"].encode() == Kind.REQUEST.tag == b"alertnode:v2:request:"
    sig = KEY_A.sign(Kind.REQUEST.tag + message).signature
    assert b64url_encode(pack((1, ORIGIN_A, NOW, NONCE, sig))) == case["header"]
    assert header(path_and_query=case["path"], body=body) == case["header"]
    assert verify(case["header"], path_and_query=case["path"], body=body).nonce == NONCE


def test_the_header_is_compact() -> None:
    # DESIGN: an idle sync is one round trip of at most 512 bytes. The header is what
    # every request pays on top of its body.
    assert len(header()) <= 170
    assert len(OLD_ENVELOPE_HEADER) - len(header()) == 256
    request = encode_changes_request(ChangesRequest(123_456, MAX_FEED_ENTRIES, NONCE))
    response = encode_changes_response(ChangesResponse(NONCE, (), 123_456, False))
    value = sign_request(KEY_A, "POST", "/fed/v2/changes", request, ORIGIN_B, NOW, NONCE)
    # The response carries the reset flag (7 bytes) since the feed completeness signals.
    assert (len(request), len(response)) == (45, 57)
    assert len(request) + len(value) + len(response) == 269
    assert len(request) + len(value) + len(response) < 300


def test_the_longest_header_any_timestamp_gives_fits_the_cap() -> None:
    late = 2**37  # the latest time the protocol allows: the timestamp takes 9 bytes
    value = header(now=late)
    assert len(value) == MAX_REQUEST_HEADER_CHARS == 172
    assert verify(value, now=late).timestamp == late


@pytest.mark.parametrize("skew", [-REQUEST_SKEW_S, -1, 0, 1, REQUEST_SKEW_S])
def test_clock_skew_within_the_window_is_accepted(skew: int) -> None:
    assert verify(header(), now=NOW + skew).origin == ORIGIN_A


def test_get_with_an_empty_body() -> None:
    value = header(method="GET", path_and_query="/fed/v2/card", body=b"")
    assert verify(value, method="GET", path_and_query="/fed/v2/card", body=b"").nonce == NONCE


def test_surrounding_whitespace_is_ignored() -> None:
    # HTTP strips it; a header passed on unstripped still verifies.
    assert verify(" " + header() + " ").nonce == NONCE


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


def test_the_clock_is_checked_only_after_the_signature() -> None:
    # A stale header that does not verify says nothing about this node's clock.
    with pytest.raises(BadSignature):
        verify(with_item(2, NOW - 3600))
    with pytest.raises(BadSignature):
        verify(header(), now=NOW + 3600, body=b"another body")


@pytest.mark.parametrize(
    "changes",
    [
        {"expected_destination": ORIGIN_A},
        {"method": "GET"},
        {"path_and_query": "/alerts/fed/v2/changes?since=0"},
        {"path_and_query": "/alerts/fed/v2/changes?since=120&"},
        {"path_and_query": "/alerts/fed/v2/bodies?since=120"},
        # What a proxy that strips (or adds) a path prefix passes on: the path differs.
        {"path_and_query": "/fed/v2/changes?since=120"},
        {"path_and_query": "/x/alerts/fed/v2/changes?since=120"},
        {"body": BODY + b"\x00"},
        {"body": b""},
    ],
)
def test_a_signature_for_another_request_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(BadSignature, match="does not verify") as info:
        verify(header(), **changes)
    assert info.value.status == 401
    assert "another method, path, body or node" in str(info.value)


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (1, ORIGIN_B),  # another signer named for A's signature
        (2, NOW + 1),  # another signing time
        (2, NOW - 1),
        (3, bytes(16)),  # another nonce: a replay cannot be given a fresh one
        (4, bytes(64)),
    ],
)
def test_a_changed_header_item_is_refused(index: int, value: Any) -> None:
    with pytest.raises(BadSignature):
        verify(with_item(index, value), now=NOW)


def test_a_changed_signature_bit_is_refused() -> None:
    sig = items()[4]
    with pytest.raises(BadSignature):
        verify(with_item(4, sig[:-1] + bytes([sig[-1] ^ 0x80])))


def test_every_single_character_change_is_refused() -> None:
    value = header()
    for i in range(len(value)):
        ch = "A" if value[i] != "A" else "B"
        with pytest.raises(ProtocolError):
            verify(value[:i] + ch + value[i + 1 :])


def test_the_signer_is_the_origin() -> None:
    # A signature by A over a message naming B as origin does not verify as A's.
    with pytest.raises(BadSignature):
        verify(signed_header(origin=ORIGIN_B))
    # Nor does B's signature over A's message.
    with pytest.raises(BadSignature):
        verify(signed_header(key=KEY_B))
    assert verify(signed_header()).origin == ORIGIN_A


@pytest.mark.parametrize("kind", [k for k in Kind if k is not Kind.REQUEST])
def test_a_signature_under_another_domain_tag_is_refused(kind: Kind) -> None:
    with pytest.raises(BadSignature):
        verify(signed_header(kind))


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ((1, ORIGIN_A, NOW, NONCE), "array of 5"),
        (7, "array of 5"),
        ((2, ORIGIN_A, NOW, NONCE, bytes(64)), "version 2"),
        ((0, ORIGIN_A, NOW, NONCE, bytes(64)), "version 0"),
        ((True, ORIGIN_A, NOW, NONCE, bytes(64)), "version True"),
        ((None, ORIGIN_A, NOW, NONCE, bytes(64)), "version None"),
        ((1, ORIGIN_A[:31], NOW, NONCE, bytes(64)), "signer"),
        ((1, None, NOW, NONCE, bytes(64)), "signer"),
        ((1, ORIGIN_A, -1, NONCE, bytes(64)), "timestamp"),
        ((1, ORIGIN_A, True, NONCE, bytes(64)), "timestamp"),
        ((1, ORIGIN_A, 2**37 + 1, NONCE, bytes(64)), "timestamp"),
        ((1, ORIGIN_A, NOW, NONCE[:15], bytes(64)), "nonce"),
        ((1, ORIGIN_A, NOW, None, bytes(64)), "nonce"),
        ((1, ORIGIN_A, NOW, NONCE, bytes(63)), "signature"),
        ((1, ORIGIN_A, NOW, NONCE, False), "signature"),
    ],
)
def test_bad_framing_is_refused(values: Any, match: str) -> None:
    with pytest.raises(MalformedObject, match=match):
        verify(header_of(values))


def test_non_canonical_or_trailing_bytes_are_refused() -> None:
    data = b64url_decode(header(), "header")
    with pytest.raises(MalformedObject, match="does not decode"):
        verify(b64url_encode(data + b"\x00"))
    # The timestamp as a uint64 rather than the uint32 it fits in.
    ts = b"\xce" + NOW.to_bytes(4, "big")
    longer = data.replace(ts, b"\xcf" + NOW.to_bytes(8, "big"))
    assert longer != data
    with pytest.raises(MalformedObject, match="canonical"):
        verify(b64url_encode(longer))


@pytest.mark.parametrize(
    "values",
    [
        (1, ORIGIN_A, NOW, NONCE, bytes(65)),  # longer than any bin the header holds
        (1, ORIGIN_A, NOW, NONCE, bytes(64), 0),  # more items than a header has
        (1, "x", NOW, NONCE, bytes(64)),  # no text in a header
        (1, ORIGIN_A, NOW, NONCE, {}),  # nor maps
    ],
)
def test_oversized_or_unexpected_items_are_refused(values: Any) -> None:
    with pytest.raises((LimitExceeded, MalformedObject)):
        verify(header_of(values))


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("", BadSignature),
        (None, BadSignature),
        ("not base64!", MalformedObject),
        ("AAAA", MalformedObject),
        ("lQHEIAOh\n", MalformedObject),
        ("A" * (MAX_REQUEST_HEADER_CHARS + 1), LimitExceeded),
        (OLD_ENVELOPE_HEADER, LimitExceeded),
    ],
)
def test_headers_that_do_not_decode_are_refused(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        verify(value)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"method": "post"}, "method"),
        ({"method": "PO ST"}, "method"),
        ({"method": "POST\n"}, "method"),
        ({"path_and_query": "v1/changes"}, "path"),
        ({"path_and_query": "/fed/v2/ch anges"}, "path"),
        ({"path_and_query": "/fed/v2/changes\n"}, "path"),
        ({"path_and_query": "/fed/v2/caf\u00e9"}, "path"),
        ({"path_and_query": "/" + "x" * MAX_PATH_CHARS}, "path"),
        ({"expected_destination": bytes(33)}, "dest"),
    ],
)
def test_a_request_line_no_signer_could_sign_is_refused(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidField) as info:
        verify(header(), **changes)
    assert info.value.field == field


def test_sign_request_refuses_what_a_receiver_would() -> None:
    with pytest.raises(LocalProtocolError):
        header(nonce=bytes(15))
    with pytest.raises(LocalProtocolError):
        header(body="text")
    for changes in (
        {"method": "get"},
        {"path_and_query": "no-slash"},
        {"path_and_query": "/" + "x" * MAX_PATH_CHARS},
        {"destination": bytes(5)},
        {"now": -5},
        {"now": 2**37 + 1},
        {"now": True},
    ):
        with pytest.raises(InvalidField):
            header(**changes)


# --- only protocol errors ------------------------------------------------------------


@QUICK
@given(st.text(max_size=600))
def test_arbitrary_header_text_raises_only_protocol_errors(value: str) -> None:
    with pytest.raises(ProtocolError):
        verify(value)


@QUICK
@given(st.binary(max_size=200))
def test_arbitrary_header_bytes_raise_only_protocol_errors(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        verify(b64url_encode(data))


@QUICK
@given(
    st.integers(0, 4),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        st.text(max_size=40),
        st.binary(max_size=70),
        st.lists(st.integers(-(2**63), 2**64 - 1), max_size=3).map(tuple),
    ),
)
def test_one_arbitrary_item_raises_only_protocol_errors(index: int, value: Any) -> None:
    # Against another body, so that even the untouched header does not verify.
    with pytest.raises(ProtocolError):
        verify(with_item(index, value), body=b"not the body")
