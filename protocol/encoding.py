"""Bounded, canonical msgpack.

Rule: ``unpack`` never builds a value larger than its ``Limits`` allow, accepts only
nil, bool, int, str, bin, array and map (no floats, no extension types), and accepts
only the canonical encoding: re-packing the value gives back the very same bytes
(smallest forms, map keys sorted and unique). So one value has one encoding and an
object id is a function of its content.
Every failure is a ``RemoteProtocolError``.
"""

from __future__ import annotations

from typing import Any

import msgpack

from .errors import LimitExceeded, MalformedObject
from .limits import DEFAULT_LIMITS, Limits

Value = Any  # None | bool | int | str | bytes | tuple[Value, ...] | dict[str, Value]


def _sorted_maps(value: Value) -> Value:
    # Map keys go out sorted (code point order, which is UTF-8 byte order), so that
    # equal maps have one encoding whatever order the caller built them in.
    if isinstance(value, dict):
        return {key: _sorted_maps(value[key]) for key in sorted(value)}
    if isinstance(value, (tuple, list)):
        return tuple(_sorted_maps(item) for item in value)
    return value


def pack(value: Value) -> bytes:
    """Encode ``value`` canonically: smallest forms, map keys sorted."""
    return msgpack.packb(_sorted_maps(value), use_bin_type=True)  # type: ignore[no-any-return]


def _refuse_ext(code: int, data: bytes) -> Value:
    raise MalformedObject("extension types are not allowed")


# What msgpack decodes a scalar as (exact types: it makes no subclasses).
_SCALARS = frozenset({type(None), bool, int, str, bytes})


def _too_deep(limits: Limits) -> LimitExceeded:
    return LimitExceeded(f"nesting deeper than {limits.depth} levels")


def _check_shape(value: Value, depth: int, limits: Limits) -> None:
    """Every value nested in ``value`` (at ``depth``) is of an allowed type, no deeper
    than ``limits.depth``, and every map has string keys in sorted order; checked in
    the order the values come. A scalar inside a container is checked where it lies,
    without a call of its own: an alert decodes to a few containers and many scalars,
    and this walk runs for every item a node receives."""
    if depth > limits.depth:
        raise _too_deep(limits)
    kind = type(value)
    if kind in _SCALARS:
        return
    inner = depth + 1
    if kind is tuple:
        for item in value:
            if inner > limits.depth:
                raise _too_deep(limits)
            if type(item) not in _SCALARS:
                _check_shape(item, inner, limits)
        return
    if kind is dict:
        keys = list(value)
        for key in keys:
            if type(key) is not str:
                raise MalformedObject("map keys must be strings")
            if inner > limits.depth:
                raise _too_deep(limits)
            item = value[key]
            if type(item) not in _SCALARS:
                _check_shape(item, inner, limits)
        if keys != sorted(keys):
            raise MalformedObject("not in canonical encoding (map keys out of order)")
        return
    raise MalformedObject(f"values of type {kind.__name__} are not allowed")


def unpack(data: bytes, limits: Limits = DEFAULT_LIMITS, *, max_bytes: int | None = None) -> Value:
    """Decode one canonical msgpack value from ``data``.

    Raises LimitExceeded if ``data`` or anything in it is larger than allowed, and
    MalformedObject if it is not exactly one canonical value of the allowed types.
    """
    cap = limits.body_bytes if max_bytes is None else max_bytes
    if not isinstance(data, bytes):
        raise MalformedObject("expected bytes")
    if len(data) > cap:
        raise LimitExceeded(f"{len(data)} bytes is more than the limit of {cap}")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=False,
            strict_map_key=True,
            ext_hook=_refuse_ext,
            max_str_len=limits.str_bytes,
            max_bin_len=limits.bin_bytes,
            max_array_len=limits.array_len,
            max_map_len=limits.map_len,
            max_ext_len=0,
        )
    except MalformedObject:
        raise
    except (msgpack.StackError, RecursionError):
        raise LimitExceeded("nesting too deep") from None
    except (
        ValueError,
        TypeError,
        msgpack.ExtraData,
        msgpack.FormatError,
    ) as exc:
        # msgpack reports a length over a max_* limit as a ValueError too; either way
        # the bytes are not something we accept. The library's own text (its option
        # names, its exception names) never reaches a message: it means nothing to
        # whoever reads the refusal.
        if "exceeds max" in str(exc):
            raise LimitExceeded(
                "a string, byte string, list or map is longer than allowed"
            ) from None
        raise MalformedObject(
            "the data does not decode as one value of the allowed types"
        ) from None
    _check_shape(value, 0, limits)
    # _check_shape has seen every map's keys in sorted order, so packing the value as
    # it is gives the canonical bytes; anything else (longer int forms, duplicate
    # keys) shows up as a difference.
    if msgpack.packb(value, use_bin_type=True) != data:
        raise MalformedObject("not in canonical encoding")
    return value
