"""Bounded canonical msgpack and envelope framing: every limit and canonical rule."""

from __future__ import annotations

import struct
import tracemalloc

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import encoding
from protocol.encoding import pack, unpack
from protocol.errors import (
    BadSignature,
    LimitExceeded,
    MalformedObject,
    ProtocolError,
    RemoteProtocolError,
)
from protocol.limits import (
    MAX_ARRAY_LEN,
    MAX_BIN_BYTES,
    MAX_BODY_BYTES,
    MAX_DEPTH,
    MAX_ENVELOPE_BYTES,
    MAX_MAP_LEN,
    MAX_STR_BYTES,
    Limits,
)
from protocol.signing import (
    KEY_BYTES,
    SIG_BYTES,
    Envelope,
    Kind,
    check_signature,
    object_id,
    open_envelope,
    parse_envelope,
    sign,
)

from . import KEY_A, ORIGIN_A

# --- round trips -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -1,
        127,
        128,
        -33,
        2**32,
        2**64 - 1,
        -(2**63),
        "",
        "é ✓ 🐍",
        b"",
        b"\x00" * MAX_BIN_BYTES,
        (),
        (1, "a", b"b", None),
        {"a": 1, "b": (2, 3), "c": {"d": None}},
    ],
)
def test_allowed_values_round_trip(value: object) -> None:
    assert unpack(pack(value)) == value


def test_arrays_come_back_as_tuples_and_lists_pack_like_tuples() -> None:
    assert pack([1, 2]) == pack((1, 2))
    assert unpack(pack([1, [2]])) == (1, (2,))


def test_pack_sorts_map_keys_so_equal_maps_have_one_encoding() -> None:
    one = pack({"b": 1, "a": {"y": 2, "x": 3}})
    other = pack({"a": {"x": 3, "y": 2}, "b": 1})
    assert one == other
    assert one == bytes.fromhex("82a161 82a17803a17902 a16201".replace(" ", ""))


def test_map_keys_sort_by_code_point_which_is_utf8_byte_order() -> None:
    keys = ["é", "z", "Z", "a", "€", "aa"]
    packed = pack(dict.fromkeys(keys, 0))
    assert list(unpack(packed)) == sorted(keys, key=lambda k: k.encode())


# --- canonical encoding ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\xcc\x01", "uint8 for a fixint"),
        (b"\xcd\x00\x01", "uint16 for a fixint"),
        (b"\xce\x00\x00\x00\x01", "uint32 for a fixint"),
        (b"\xcf" + struct.pack(">Q", 1), "uint64 for a fixint"),
        (b"\xd0\x01", "int8 for a positive fixint"),
        (b"\xd0\xff", "int8 for a negative fixint"),
        (b"\xd1\x00\x80", "int16 for a uint8"),
        (b"\xd9\x01a", "str8 for a fixstr"),
        (b"\xda\x00\x01a", "str16 for a fixstr"),
        (b"\xc5\x00\x01a", "bin16 for a bin8"),
        (b"\xdc\x00\x01\x01", "array16 for a fixarray"),
        (b"\xde\x00\x01\xa1a\x01", "map16 for a fixmap"),
        (b"\x82\xa1b\x01\xa1a\x02", "unsorted map keys"),
        (b"\x82\xa1a\x01\xa1a\x02", "duplicate map keys"),
        (b"\x82\xa1a\x01\xa1a\x01", "duplicate map keys with equal values"),
    ],
)
def test_non_canonical_encodings_are_malformed(data: bytes, why: str) -> None:
    with pytest.raises(MalformedObject, match="canonical"):
        unpack(data)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\xcb" + struct.pack(">d", 1.5), "float64"),
        (b"\xca" + struct.pack(">f", 1.5), "float32"),
        (b"\xc7\x00\x05", "empty ext8"),
        (b"\x81\xc4\x01k\x01", "bin map key"),
        (b"\x81\x01\x01", "int map key"),
        (b"\x81\xc0\x01", "nil map key"),
        (b"\x81\x90\x01", "array map key"),
        (b"\x81\x80\x01", "map map key"),
        (b"\xa2\xc3\x28", "invalid UTF-8 in a str"),
        (b"\x01\x02", "trailing bytes"),
        (b"", "no value at all"),
        (b"\x92\x01", "array shorter than it says"),
        (b"\xc1", "the never-used byte 0xc1"),
    ],
)
def test_values_outside_the_allowed_types_are_malformed(data: bytes, why: str) -> None:
    with pytest.raises(MalformedObject):
        unpack(data)


@pytest.mark.parametrize(
    "data",
    [
        b"\xd4\x01\x00",  # fixext1
        msgpack.packb(msgpack.ExtType(5, b"abcd")),
        msgpack.packb(msgpack.Timestamp(1, 0)),
    ],
)
def test_extension_types_are_refused(data: bytes) -> None:
    # Refused as too large (extensions may have 0 bytes) or as malformed: never decoded.
    with pytest.raises(RemoteProtocolError):
        unpack(data)


def test_non_bytes_input_is_malformed() -> None:
    with pytest.raises(MalformedObject):
        unpack(bytearray(b"\x01"))  # type: ignore[arg-type]


# --- limits ------------------------------------------------------------------------


def test_data_longer_than_the_body_limit_is_refused_before_decoding() -> None:
    data = pack("x" * (MAX_BODY_BYTES))  # valid msgpack, just too long
    with pytest.raises(LimitExceeded):
        unpack(data)


def test_max_bytes_overrides_the_body_limit() -> None:
    assert unpack(pack("abc"), max_bytes=4) == "abc"
    with pytest.raises(LimitExceeded):
        unpack(pack("abcd"), max_bytes=4)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("x" * MAX_STR_BYTES, True),
        ("x" * (MAX_STR_BYTES + 1), False),
        (b"x" * MAX_BIN_BYTES, True),
        (b"x" * (MAX_BIN_BYTES + 1), False),
        ((0,) * MAX_ARRAY_LEN, True),
        ((0,) * (MAX_ARRAY_LEN + 1), False),
        ({f"k{i:02}": 0 for i in range(MAX_MAP_LEN)}, True),
        ({f"k{i:02}": 0 for i in range(MAX_MAP_LEN + 1)}, False),
    ],
)
def test_length_limits(value: object, ok: bool) -> None:
    data = pack(value)
    if ok:
        assert unpack(data) == value
    else:
        with pytest.raises(LimitExceeded):
            unpack(data)


def nested(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = (value,)
    return value


def test_nesting_up_to_the_limit_is_accepted() -> None:
    assert unpack(pack(nested(MAX_DEPTH))) == nested(MAX_DEPTH)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100, 3000])
def test_deeper_nesting_is_limit_exceeded(depth: int) -> None:
    # 3000 levels is deeper than msgpack's own stack: it must still be LimitExceeded.
    with pytest.raises(LimitExceeded):
        unpack(b"\x91" * depth + b"\x00")


def test_deep_maps_are_limit_exceeded() -> None:
    value: object = 0
    for _ in range(MAX_DEPTH + 1):
        value = {"k": value}
    with pytest.raises(LimitExceeded):
        unpack(pack(value))


@pytest.mark.parametrize(
    "header",
    [
        b"\xdd\xff\xff\xff\xff",  # array32 of 4 Gi items
        b"\xdf\xff\xff\xff\xff",  # map32 of 4 Gi pairs
        b"\xdb\xff\xff\xff\xff",  # str32 of 4 GiB
        b"\xc6\xff\xff\xff\xff",  # bin32 of 4 GiB
        b"\xdc\xff\xff",  # array16 of 65535 items
        b"\xda\xff\xff",  # str16 of 64 KiB
    ],
)
def test_huge_declared_length_fails_without_allocating(header: bytes) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(RemoteProtocolError):
            unpack(header + b"\x00" * 16)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


def test_declared_array_length_over_the_limit_is_limit_exceeded() -> None:
    with pytest.raises(LimitExceeded):
        unpack(b"\xdd\xff\xff\xff\xff" + b"\x00" * 16)


def test_stricter_limits_are_honoured() -> None:
    strict = Limits(str_bytes=4, array_len=2, depth=1)
    assert unpack(pack(("abcd", 1)), strict) == ("abcd", 1)
    for value in ["abcde", (1, 2, 3), ((1,),)]:
        with pytest.raises(LimitExceeded):
            unpack(pack(value), strict)


# --- envelopes ---------------------------------------------------------------------


def test_envelope_framing_is_an_array_of_kind_signer_body_sig() -> None:
    env = sign(Kind.ALERT, pack({"x": 1}), KEY_A)
    assert unpack(env.to_bytes(), max_bytes=MAX_ENVELOPE_BYTES) == (
        "alert",
        ORIGIN_A,
        pack({"x": 1}),
        env.sig,
    )
    assert parse_envelope(env.to_bytes()) == env


def test_domain_tags_are_distinct_and_fixed() -> None:
    tags = {kind: kind.tag for kind in Kind}
    assert tags[Kind.ALERT] == b"alertnode:v2:alert:"
    assert tags[Kind.RETRACTION] == b"alertnode:v2:retraction:"
    assert len(set(tags.values())) == len(Kind)
    # No tag is a prefix of another, so TAG || body cannot be read as another kind.
    for a in tags.values():
        for b in tags.values():
            assert a == b or not b.startswith(a)


def test_id_is_sha256_of_tag_and_body() -> None:
    import hashlib

    body = pack({"x": 1})
    assert object_id(Kind.ALERT, body) == hashlib.sha256(b"alertnode:v2:alert:" + body).digest()
    assert object_id(Kind.ALERT, body) != object_id(Kind.RETRACTION, body)


def test_open_envelope_checks_kind_then_signature() -> None:
    env = sign(Kind.ALERT, b"\x80", KEY_A)
    assert open_envelope(env.to_bytes(), Kind.ALERT) == env
    with pytest.raises(MalformedObject, match="expected a retraction"):
        open_envelope(env.to_bytes(), Kind.RETRACTION)
    forged = Envelope(Kind.ALERT, env.signer, b"\x81\xa1a\x01", env.sig)
    with pytest.raises(BadSignature):
        open_envelope(forged.to_bytes(), Kind.ALERT)


def test_check_signature_refuses_wrong_lengths_and_bad_points() -> None:
    env = sign(Kind.ALERT, b"\x80", KEY_A)
    with pytest.raises(BadSignature):
        check_signature(Kind.ALERT, env.signer[:31], env.body, env.sig)
    with pytest.raises(BadSignature):
        check_signature(Kind.ALERT, env.signer, env.body, env.sig[:63])
    with pytest.raises(BadSignature):
        check_signature(Kind.ALERT, b"\xff" * KEY_BYTES, env.body, env.sig)
    with pytest.raises(BadSignature):
        check_signature(Kind.ALERT, env.signer, env.body, b"\x00" * SIG_BYTES)


def frame(*items: object) -> bytes:
    data: bytes = msgpack.packb(items, use_bin_type=True)
    return data


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (frame("alert", ORIGIN_A, b"\x80"), MalformedObject),
        (frame("alert", ORIGIN_A, b"\x80", b"s" * 64, b""), LimitExceeded),
        (frame("parcel", ORIGIN_A, b"\x80", b"s" * 64), MalformedObject),
        (frame("ALERT", ORIGIN_A, b"\x80", b"s" * 64), MalformedObject),
        (frame(1, ORIGIN_A, b"\x80", b"s" * 64), MalformedObject),
        (frame("alert", ORIGIN_A[:31], b"\x80", b"s" * 64), MalformedObject),
        (frame("alert", "key", b"\x80", b"s" * 64), MalformedObject),
        (frame("alert", ORIGIN_A, "\x80", b"s" * 64), MalformedObject),
        (frame("alert", ORIGIN_A, b"\x80", b"s" * 63), MalformedObject),
        (frame("alert", ORIGIN_A, b"\x80", None), MalformedObject),
        (msgpack.packb({"kind": "alert"}), LimitExceeded),
        (frame("alert", ORIGIN_A, (), b"s" * 64), MalformedObject),
        (frame("alert", ORIGIN_A, ((1,),), b"s" * 64), LimitExceeded),
        (pack("alert"), MalformedObject),
        (b"", MalformedObject),
    ],
)
def test_bad_framing(data: bytes, error: type[ProtocolError]) -> None:
    with pytest.raises(error):
        parse_envelope(data)


def test_envelope_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(LimitExceeded, match="envelope"):
        parse_envelope(b"\x00" * (MAX_ENVELOPE_BYTES + 1))


def test_body_over_the_body_limit_is_refused() -> None:
    env = Envelope(Kind.ALERT, ORIGIN_A, b"\x00" * (MAX_BODY_BYTES + 1), b"s" * 64)
    with pytest.raises(LimitExceeded):
        parse_envelope(env.to_bytes())
    small = Limits(body_bytes=100)
    env = Envelope(Kind.ALERT, ORIGIN_A, b"\x00" * 101, b"s" * 64)
    with pytest.raises(LimitExceeded):
        parse_envelope(env.to_bytes(), small)


def test_a_received_envelope_keeps_its_exact_bytes_and_a_changed_one_does_not() -> None:
    import dataclasses

    import nacl.signing

    from protocol.signing import Kind, parse_envelope, sign

    data = sign(Kind.ALERT, b"\x80", nacl.signing.SigningKey(b"\x01" * 32)).to_bytes()
    received = parse_envelope(data)
    assert received.raw is data and received.to_bytes() is data
    changed = dataclasses.replace(received, body=b"\x81")
    assert changed.raw is None and changed.to_bytes() != data and changed.id != received.id


# --- the shape walk against the rules as first written -----------------------------


def _shape_as_first_written(value: object, depth: int, limits: Limits) -> None:
    """The rules of ``_check_shape`` as one plain recursive walk (its first form):
    every value, scalars included, is visited with its own depth."""
    if depth > limits.depth:
        raise LimitExceeded(f"nesting deeper than {limits.depth} levels")
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return
    if isinstance(value, tuple):
        for item in value:
            _shape_as_first_written(item, depth + 1, limits)
        return
    if isinstance(value, dict):
        keys = list(value)
        for key in keys:
            if not isinstance(key, str):
                raise MalformedObject("map keys must be strings")
            _shape_as_first_written(value[key], depth + 1, limits)
        if keys != sorted(keys):
            raise MalformedObject("not in canonical encoding (map keys out of order)")
        return
    raise MalformedObject(f"values of type {type(value).__name__} are not allowed")


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.text(max_size=3),
    st.binary(max_size=3), st.floats(allow_nan=False),
)  # fmt: skip
_keys = st.one_of(st.text(max_size=2), st.binary(max_size=2), st.integers(0, 3))
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(_keys, inner, max_size=4),
    ),
    max_leaves=24,
)


def _outcome(check: object, value: object, limits: Limits) -> tuple[str, str]:
    try:
        check(value, 0, limits)  # type: ignore[operator]
    except ProtocolError as exc:
        return type(exc).__name__, str(exc)
    return "ok", ""


@settings(max_examples=600, deadline=None)
@given(value=_values, depth=st.integers(0, 4))
def test_the_shape_walk_decides_every_value_as_the_plain_walk_does(
    value: object, depth: int
) -> None:
    # Also every error and its text: which fault of several is reported first.
    limits = Limits(depth=depth)
    assert _outcome(encoding._check_shape, value, limits) == _outcome(
        _shape_as_first_written, value, limits
    )
