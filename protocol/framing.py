"""The framing every changes-feed message shares (protocol.feed): the decoder's caps
for a kind of message, reading a map with its extensions, epochs, strict booleans,
positions as deltas, and encoding that checks its own output decodes back.

Rule: pure functions over msgpack values; no message type lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from .encoding import Value, pack, unpack
from .errors import InvalidField, LocalProtocolError, MalformedObject
from .extensions import OptionalExt as Ext
from .extensions import pop_optional_ext as read_ext
from .fields import Reader
from .limits import MAX_EXT_KEY_CHARS, MAX_EXT_KEYS, Limits
from .signing import ID_BYTES

EPOCH_BYTES = 16
FEED_KINDS: tuple[str, ...] = ("a", "r")  # alert, retraction
MAX_POS = 2**53 - 1


def message_limits(max_bytes: int, array_len: int, bin_bytes: int = ID_BYTES) -> Limits:
    """The decoder's caps for one kind of message: its byte cap and longest list."""
    return Limits(
        envelope_bytes=max_bytes,
        body_bytes=max_bytes,
        str_bytes=MAX_EXT_KEY_CHARS,
        bin_bytes=bin_bytes,
        array_len=array_len,
        map_len=MAX_EXT_KEYS,
        depth=3,
    )


_Message = TypeVar("_Message")


def encode_checked(message: _Message, wire: Value, decode: Callable[[bytes], _Message]) -> bytes:
    """Pack ``wire`` and check it decodes back to ``message``."""
    try:
        data = pack(wire)
    except (TypeError, ValueError, OverflowError):
        raise LocalProtocolError(f"a {type(message).__name__} field has the wrong type") from None
    if decode(data) != message:
        raise LocalProtocolError(f"the {type(message).__name__} does not survive encoding")
    return data


def read_map(data: bytes, limits: Limits, what: str) -> tuple[Reader, Ext]:
    value = unpack(data, limits)
    if not isinstance(value, dict):
        raise MalformedObject(f"a {what} is a map")
    body = dict(value)
    ext = read_ext(body)
    return Reader(body, what), ext


def read_epoch(r: Reader, key: str, *, optional: bool) -> bytes | None:
    return r.blob(key, EPOCH_BYTES, optional=optional)


def strict_bool(r: Reader, key: str) -> bool:
    value = r.raw(key)
    if not isinstance(value, bool):
        raise InvalidField(key, "must be true or false")
    return value


def delta_encode(positions: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(p - q for p, q in zip(positions, (0, *positions), strict=False))


def delta_decode(key: str, deltas: tuple[object, ...]) -> tuple[int, ...]:
    positions: list[int] = []
    last = 0
    for i, delta in enumerate(deltas):
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise InvalidField(key, "each position is an integer")
        if delta < (0 if i == 0 else 1):
            raise InvalidField(key, "positions must be strictly increasing")
        last += delta
        if last > MAX_POS:
            raise InvalidField(key, f"a position is at most {MAX_POS}")
        positions.append(last)
    return tuple(positions)
