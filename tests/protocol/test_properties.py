"""Hypothesis properties of the wire format.

(a) every valid alert survives sign -> bytes -> verify unchanged, id included;
(b) no single-byte change to a signed envelope is ever accepted;
(c) whatever bytes arrive, the decoders raise only ProtocolError subclasses.

Blinded values are random 32-byte strings: real blinding costs ~20 ms, and the
decoder only checks the length.
"""

from __future__ import annotations

import contextlib
import datetime
from typing import Any

import msgpack
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from protocol.alert import AlertBody, Indicator, sign_alert, verify_alert
from protocol.encoding import pack, unpack
from protocol.errors import ProtocolError
from protocol.extensions import Extensions
from protocol.fields import (
    CATEGORIES,
    INDICATOR_KINDS,
    TLP_LABELS,
    TLP_MAX_HOPS,
    TLP_PARTNER_LABELS,
)
from protocol.limits import (
    HOUR_S,
    MAX_CATEGORIES,
    MAX_CLOCK_SKEW_S,
    MAX_DEPTH,
    MAX_DESCRIPTION_CHARS,
    MAX_DESCRIPTIONS_BYTES,
    MAX_EXPIRY_S,
    MAX_INCIDENT_AGE_DAYS,
    MAX_INDICATORS,
    MAX_TRANSLATIONS,
)
from protocol.retraction import verify_retraction
from protocol.signing import Kind, parse_envelope

from . import KEY_A, KEY_B, NOW, alert_body, body_map, retraction_body, signed

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = (KEY_A, KEY_B)
_MAX_TIME = 2**37  # the decoder's upper bound on times
_LATEST_HOUR = (_MAX_TIME - 1) // HOUR_S


# --- strategies --------------------------------------------------------------------

regions = st.from_regex(r"[A-Z]{2}(-[A-Z0-9]{1,6}){0,2}", fullmatch=True)
langs = st.from_regex(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}", fullmatch=True).filter(
    lambda s: len(s) <= 16
)
# Free text: anything but control characters (Cc) and lone surrogates, plus \n and \t.
free_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from("\n\t"),
    max_size=MAX_DESCRIPTION_CHARS,
)
indicator_lists = st.lists(
    st.builds(
        Indicator,
        st.sampled_from(INDICATOR_KINDS),
        st.binary(min_size=32, max_size=32),
        st.binary(min_size=8, max_size=8),
        st.integers(min_value=1, max_value=255),
    ),
    max_size=MAX_INDICATORS,
    unique_by=lambda i: i.to_wire(),
).map(tuple)


_ext_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=20)
    | st.binary(max_size=64)
)
_ext_inner = (
    _ext_scalars
    | st.lists(_ext_scalars, max_size=3).map(tuple)
    | st.dictionaries(st.text(max_size=8), _ext_scalars, max_size=3)
)
# An ext value sits at depth 2 (body, ext map, value), so it nests two levels at most.
ext_values_st = (
    _ext_scalars
    | st.lists(_ext_inner, max_size=3).map(tuple)
    | st.dictionaries(st.text(max_size=8), _ext_inner, max_size=3)
)
translation_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40
)


@st.composite
def valid_alerts(draw: st.DrawFn) -> tuple[AlertBody, int, int]:
    """(body, index of the signing key in KEYS, a ``now`` at which it is valid)."""
    key_index = draw(st.sampled_from((0, 1)))
    created = draw(st.integers(0, _LATEST_HOUR)) * HOUR_S
    expires = created + draw(st.integers(1, min(MAX_EXPIRY_S, _MAX_TIME - created)))
    now = draw(st.integers(created - MAX_CLOCK_SKEW_S, expires - 1))
    created_date = datetime.datetime.fromtimestamp(created, datetime.UTC).date()
    age_days = draw(st.integers(-1, MAX_INCIDENT_AGE_DAYS))
    incident = created_date - datetime.timedelta(days=age_days)
    tlp = draw(st.sampled_from(TLP_LABELS))
    hops = draw(st.integers(0, TLP_MAX_HOPS[tlp]))
    lang = draw(langs)
    description = draw(free_text)
    tags = draw(st.lists(langs, max_size=MAX_TRANSLATIONS, unique_by=str.lower))
    tags = sorted(t for t in tags if t.lower() != lang.lower())
    translations = tuple((t, draw(translation_text)) for t in tags)
    total = len(description.encode()) + sum(len(t.encode()) for _, t in translations)
    assume(total <= MAX_DESCRIPTIONS_BYTES)
    ext_names = draw(
        st.lists(
            st.from_regex(r"[a-z0-9][a-z0-9._-]{0,8}", fullmatch=True), max_size=3, unique=True
        )
    )
    ext_values = {f"org.example:{n}": draw(ext_values_st) for n in ext_names}
    must = tuple(k for k in ext_values if draw(st.booleans()))
    body = AlertBody(
        origin=bytes(KEYS[key_index].verify_key),
        created=created,
        expires=expires,
        incident=incident.isoformat(),
        region=draw(regions),
        categories=tuple(
            draw(
                st.lists(
                    st.sampled_from(CATEGORIES), min_size=1, max_size=MAX_CATEGORIES, unique=True
                )
            )
        ),
        danger=draw(st.sampled_from((1, 2, 3))),
        indicators=draw(indicator_lists),
        description=description,
        lang=lang,
        hops=hops,
        tlp=tlp,
        supersedes=draw(st.none() | st.binary(min_size=32, max_size=32)),
        nonce=draw(st.binary(min_size=16, max_size=16)),
        translations=translations,
        partner_checks=tlp in TLP_PARTNER_LABELS and draw(st.booleans()),
        ext=Extensions.of(ext_values, must),
    )
    return body, key_index, now


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=40)
    | st.binary(max_size=80)
    | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=8))
    | st.builds(msgpack.Timestamp, st.integers(0, 2**34 - 1), st.integers(0, 999_999_999))
)
map_keys = st.text(max_size=12) | st.integers(-5, 5) | st.binary(max_size=4) | st.none()
msgpack_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(map_keys, inner, max_size=6),
    max_leaves=40,
)


def packb(value: Any) -> bytes:
    """msgpack as any other implementation might write it: not necessarily canonical."""
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def only_protocol_errors(data: bytes) -> None:
    """Feed ``data`` to every entry point; anything but a ProtocolError escapes and fails."""
    for call in (
        lambda: verify_alert(data, NOW),
        lambda: verify_retraction(data, NOW),
        lambda: parse_envelope(data),
        lambda: unpack(data),
    ):
        with contextlib.suppress(ProtocolError):
            call()


# --- (a) round trip ----------------------------------------------------------------


@FAST
@given(valid_alerts())
def test_valid_alerts_round_trip_through_the_wire(case: tuple[AlertBody, int, int]) -> None:
    body, key_index, now = case
    sent = sign_alert(body, KEYS[key_index], now)
    wire = sent.envelope.to_bytes()
    received = verify_alert(wire, now, understood=frozenset(body.ext.must_understand))
    assert received.body == body
    assert received.id == sent.id
    assert received.envelope.body == body.to_bytes()
    assert received.envelope.to_bytes() == wire


# --- (b) tampering -----------------------------------------------------------------


@FAST
@given(valid_alerts(), st.data())
def test_any_single_byte_change_is_refused(case: tuple[AlertBody, int, int], data: Any) -> None:
    body, key_index, now = case
    wire = bytearray(sign_alert(body, KEYS[key_index], now).envelope.to_bytes())
    position = data.draw(st.integers(0, len(wire) - 1), label="position")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != wire[position]), label="byte")
    wire[position] = new
    try:
        verified = verify_alert(bytes(wire), now)
    except ProtocolError:
        return
    raise AssertionError(f"a changed envelope verified, with body {verified.body!r}")


def test_every_bit_flip_of_one_envelope_is_refused() -> None:
    # Exhaustive over one envelope: every byte position, three different changes.
    wire = sign_alert(alert_body(), KEY_A, NOW).envelope.to_bytes()
    for position in range(len(wire)):
        for mask in (0x01, 0x80, 0xFF):
            changed = bytearray(wire)
            changed[position] ^= mask
            try:
                verify_alert(bytes(changed), NOW)
            except ProtocolError:
                continue
            raise AssertionError(f"flipping {mask:#x} at byte {position} was accepted")


@QUICK
@given(valid_alerts(), st.data())
def test_truncated_or_extended_envelopes_are_refused(
    case: tuple[AlertBody, int, int], data: Any
) -> None:
    body, key_index, now = case
    wire = sign_alert(body, KEYS[key_index], now).envelope.to_bytes()
    cut = data.draw(st.integers(0, len(wire) - 1), label="cut")
    extra = data.draw(st.binary(min_size=1, max_size=8), label="extra")
    for changed in (wire[:cut], wire + extra):
        try:
            verify_alert(changed, now)
        except ProtocolError:
            continue
        raise AssertionError("a truncated or extended envelope verified")


# --- (c) only protocol errors ------------------------------------------------------


@FAST
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_protocol_errors(data: bytes) -> None:
    only_protocol_errors(data)


@QUICK
@given(st.binary(max_size=600))
def test_arbitrary_signed_bodies_raise_only_protocol_errors(body: bytes) -> None:
    # A valid signature gets past the envelope checks, so the body decoder sees it.
    only_protocol_errors(signed(body, Kind.ALERT))
    only_protocol_errors(signed(body, Kind.RETRACTION))


@FAST
@given(msgpack_values)
def test_arbitrary_msgpack_values_raise_only_protocol_errors(value: Any) -> None:
    data = packb(value)
    only_protocol_errors(data)
    only_protocol_errors(signed(data, Kind.ALERT))
    only_protocol_errors(signed(data, Kind.RETRACTION))
    try:
        decoded = unpack(data)
    except ProtocolError:
        return
    assert pack(decoded) == data  # whatever unpack accepts is canonical


@FAST
@given(
    st.sampled_from(sorted(body_map(alert_body()))),
    msgpack_values,
    st.booleans(),
)
def test_alert_bodies_with_one_arbitrary_field_raise_only_protocol_errors(
    field: str, value: Any, canonical: bool
) -> None:
    fields = body_map(alert_body())
    fields[field] = value
    try:
        body = pack(fields) if canonical else packb(fields)
    except (TypeError, ValueError):
        return  # not representable (mixed-type map keys cannot be sorted)
    only_protocol_errors(signed(body, Kind.ALERT))


@QUICK
@given(
    st.sampled_from(sorted(body_map(retraction_body()))),
    msgpack_values,
)
def test_retraction_bodies_with_one_arbitrary_field_raise_only_protocol_errors(
    field: str, value: Any
) -> None:
    fields = body_map(retraction_body())
    fields[field] = value
    only_protocol_errors(signed(packb(fields), Kind.RETRACTION))


@QUICK
@given(st.lists(msgpack_values, min_size=4, max_size=4))
def test_arbitrary_envelope_framings_raise_only_protocol_errors(items: list[Any]) -> None:
    only_protocol_errors(packb(items))
    only_protocol_errors(packb(["alert", *items[1:]]))


def allowed_values(depth: int = 0) -> st.SearchStrategy[Any]:
    """Values unpack accepts under the default limits (depth included)."""
    leaves = (
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**64 - 1)
        | st.text(max_size=20)
        | st.binary(max_size=64)
    )
    if depth == MAX_DEPTH:
        return leaves
    inner = allowed_values(depth + 1)
    return (
        leaves
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    )


@QUICK
@given(allowed_values())
def test_allowed_values_round_trip_canonically(value: Any) -> None:
    data = pack(value)
    assert unpack(data) == value
    assert pack(unpack(data)) == data
