"""Feed messages v2: what a bodies response left out, resets, the shared batch limit,
and extensions on every message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from protocol.encoding import pack
from protocol.errors import (
    InvalidField,
)
from protocol.extensions import UnsupportedExtension
from protocol.feed import (
    LEFT_GONE,
    LEFT_NOT_YOURS,
    LEFT_SIZE_CUT,
    MAX_BATCH_IDS,
    BodiesRequest,
    BodiesResponse,
    ChangesResponse,
    LeftOut,
    Poke,
    decode_bodies_request,
    decode_bodies_response,
    decode_changes_request,
    decode_changes_response,
    decode_ids_request,
    decode_ids_response,
    decode_poke,
    encode_bodies_request,
    encode_bodies_response,
    encode_changes_response,
    encode_poke,
)
from tests.protocol.test_feed import DECODERS, EPOCH, entry_id


def test_bodies_response_left_outs_round_trip() -> None:
    left = (LeftOut(7, LEFT_SIZE_CUT), LeftOut(entry_id(1), LEFT_GONE), LeftOut(9, LEFT_NOT_YOURS))
    message = BodiesResponse((b"env",), left)
    assert decode_bodies_response(encode_bodies_response(message)) == message


@pytest.mark.parametrize(
    "left",
    [
        ((1, "lost"),),
        ((-1, LEFT_GONE),),
        ((True, LEFT_GONE),),
        ((b"x" * 31, LEFT_GONE),),
        ((1, LEFT_GONE, 0),),
        ((1, LEFT_GONE), (1, LEFT_SIZE_CUT)),  # the same item twice
        tuple((i, LEFT_GONE) for i in range(MAX_BATCH_IDS)),  # with one item: 257
    ],
)
def test_bad_left_outs_are_refused(left: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidField) as info:
        decode_bodies_response(pack({"items": (b"env",), "left": left}))
    assert info.value.field == "left"


def test_a_reset_changes_response_round_trips() -> None:
    message = ChangesResponse(EPOCH, (), 0, False, reset=True)
    assert decode_changes_response(encode_changes_response(message)) == message


def test_positions_and_ids_count_together_against_the_batch_limit() -> None:
    half = MAX_BATCH_IDS // 2
    ids = tuple(entry_id(i) for i in range(half))
    ok = BodiesRequest(tuple(range(1, half + 1)), ids, EPOCH)
    assert decode_bodies_request(encode_bodies_request(ok)) == ok
    with pytest.raises(InvalidField, match="positions and ids"):
        encode_bodies_request(BodiesRequest(tuple(range(1, half + 2)), ids, EPOCH))


@pytest.mark.parametrize("decode", DECODERS)
def test_ext_is_kept_and_must_understand_is_refused(decode: Callable[[bytes], object]) -> None:
    wires: dict[Callable[[bytes], object], dict[str, Any]] = {
        decode_changes_request: {"since": 0, "limit": 1, "epoch": None},
        decode_changes_response: {
            "epoch": EPOCH, "entries": (), "next": 0, "more": False, "reset": False
        },
        decode_bodies_request: {"epoch": None, "positions": (), "ids": (entry_id(1),)},
        decode_bodies_response: {"items": (b"env",), "left": ()},
        decode_ids_request: {"after": None, "limit": 1},
        decode_ids_response: {"epoch": EPOCH, "head": 0, "entries": (), "more": False},
        decode_poke: {"head": None},
    }  # fmt: skip
    wire = wires[decode]
    ext = {"org.example:colour": "blue", "org.example:n": 3}
    message = decode(pack({**wire, "ext": ext}))
    assert message.ext == tuple(sorted(ext.items()))  # type: ignore[attr-defined]
    assert decode(pack(wire)).ext == ()  # type: ignore[attr-defined]
    with pytest.raises(UnsupportedExtension) as info:
        decode(pack({**wire, "ext": ext, "must_understand": ("org.example:n",)}))
    assert info.value.code == "unsupported_extension" and info.value.status == 422
    for bad in (
        {"ext": {}},
        {"ext": {"colour": 1}},  # not namespaced
        {"ext": {"Org:X": 1}},
        {"ext": ext, "must_understand": ()},
        {"ext": ext, "must_understand": ("org.example:other",)},  # not in ext
        # One message, one encoding: sorted, no repeats (as for alerts, section 5a).
        {"ext": ext, "must_understand": ("org.example:n", "org.example:colour")},
        {"ext": ext, "must_understand": ("org.example:n", "org.example:n")},
        {"must_understand": ("org.example:n",)},
    ):
        with pytest.raises(InvalidField) as refused:
            decode(pack({**wire, **bad}))
        # Refused for its shape, before anyone asks whether the keys are understood.
        assert not isinstance(refused.value, UnsupportedExtension), bad
        assert refused.value.field in ("ext", "must_understand"), bad


@pytest.mark.parametrize(
    ("decode", "wire"),
    [
        (decode_changes_response,
         {"epoch": EPOCH, "entries": (), "next": 0, "more": False, "reset": False}),
        (decode_bodies_request, {"epoch": None, "positions": (), "ids": (entry_id(1),)}),
        (decode_bodies_response, {"items": (b"env",), "left": ()}),
        (decode_ids_response, {"epoch": EPOCH, "head": 0, "entries": (), "more": False}),
    ],
)  # fmt: skip
def test_an_ext_over_1024_bytes_is_refused_in_a_message_that_could_carry_it(
    decode: Callable[[bytes], object], wire: dict[str, Any]
) -> None:
    """The one rule of every ext (section 5a), also where the message's byte cap is
    larger than 1024 (the 512-byte messages refuse it as too large anyway)."""
    ext = {"org.example:big": ("x" * 60,) * 8, "org.example:more": ("y" * 60,) * 8}
    assert len(pack(ext)) > 1024
    with pytest.raises(InvalidField) as refused:
        decode(pack({**wire, "ext": ext}))
    assert refused.value.field == "ext"


def test_encoders_send_ext_and_omit_it_when_empty() -> None:
    poke = Poke(3, (("org.example:x", b"\x01"),))
    assert decode_poke(encode_poke(poke)) == poke
    assert b"ext" not in encode_poke(Poke(3))
