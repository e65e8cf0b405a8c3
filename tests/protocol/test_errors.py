"""Each protocol error has a stable code, and a decoder failure never quotes the
msgpack library (its option names, its exception names)."""

from __future__ import annotations

import pytest

from protocol import errors
from protocol.encoding import unpack
from protocol.errors import ClockSkew, InvalidField, LimitExceeded, MalformedObject
from protocol.limits import Limits

CODES = {
    errors.ProtocolError: "malformed",
    errors.LocalProtocolError: "invalid_request",
    errors.InvalidIndicator: "invalid_field",
    errors.RemoteProtocolError: "malformed",
    errors.LimitExceeded: "too_large",
    errors.MalformedObject: "malformed",
    errors.UnsupportedVersion: "unsupported_version",
    errors.BadSignature: "bad_signature",
    errors.InvalidField: "invalid_field",
    errors.ClockSkew: "clock_skew",
}
SMALL = Limits(envelope_bytes=64, body_bytes=64, str_bytes=4, bin_bytes=4, array_len=2,
               map_len=2, depth=2)  # fmt: skip


def test_every_error_class_has_its_code() -> None:
    classes = {c for c in vars(errors).values() if isinstance(c, type) and
               issubclass(c, errors.ProtocolError)}  # fmt: skip
    assert classes == set(CODES)
    for cls, code in CODES.items():
        assert cls.code == code


def test_field_errors_name_their_field() -> None:
    assert InvalidField("limit", "too big").field == "limit"
    skew = ClockSkew("timestamp", "off by 600 s")
    assert (skew.code, skew.field, skew.message) == (
        "clock_skew",
        "timestamp",
        "timestamp: off by 600 s",
    )
    assert MalformedObject("x").field is None


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x93\x01\x02\x03", LimitExceeded),  # an array over array_len
        (b"\xa5hello", LimitExceeded),  # a string over str_bytes
        (b"\xc4\x05abcde", LimitExceeded),  # bytes over bin_bytes
        (b"\x83\xa1a\x01\xa1b\x02\xa1c\x03", LimitExceeded),  # a map over map_len
        (b"\x01\x02", MalformedObject),  # trailing bytes (msgpack's ExtraData)
        (b"\xc1", MalformedObject),  # a reserved byte (msgpack's FormatError)
        (b"\xdc\x00", MalformedObject),  # cut short
    ],
)
def test_decoder_failures_never_quote_the_library(data: bytes, error: type) -> None:
    with pytest.raises(error) as caught:
        unpack(data, SMALL)
    text = caught.value.message.lower()
    for word in ("max_", "extradata", "formaterror", "valueerror", "msgpack", "unpack"):
        assert word not in text, text
