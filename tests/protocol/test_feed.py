"""Changes-feed messages: round trips, measured sizes, bounds and every refusal."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.encoding import pack
from protocol.errors import (
    InvalidField,
    LimitExceeded,
    LocalProtocolError,
    MalformedObject,
    ProtocolError,
)
from protocol.feed import (
    LEFT_GONE,
    LEFT_NOT_YOURS,
    LEFT_SIZE_CUT,
    MAX_BATCH_IDS,
    MAX_BODIES_RESPONSE_BYTES,
    MAX_FEED_ENTRIES,
    MAX_IDS_PAGE,
    MAX_POS,
    BodiesRequest,
    BodiesResponse,
    ChangesRequest,
    ChangesResponse,
    FeedEntry,
    IdEntry,
    IdsRequest,
    IdsResponse,
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
    encode_changes_request,
    encode_changes_response,
    encode_ids_request,
    encode_ids_response,
    encode_poke,
    fit_bodies_response,
)
from protocol.limits import MAX_ENVELOPE_BYTES, MAX_HOPS

EPOCH = bytes(range(16))
HEAD = 123_456  # a log position in the hundreds of thousands
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DECODERS: tuple[Callable[[bytes], object], ...] = (
    decode_changes_request,
    decode_changes_response,
    decode_bodies_request,
    decode_bodies_response,
    decode_ids_request,
    decode_ids_response,
    decode_poke,
)


def entry_id(i: int) -> bytes:
    return i.to_bytes(4, "big") * 8


def entries(n: int, start: int = HEAD, step: int = 1) -> tuple[FeedEntry, ...]:
    return tuple(
        FeedEntry(start + i * step, "ar"[i % 2], entry_id(i), i % (MAX_HOPS + 1)) for i in range(n)
    )


def raw(value: Any) -> bytes:
    """msgpack without the canonical sort, for malformed inputs."""
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


# --- round trips --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "encode", "decode"),
    [
        (ChangesRequest(0, 1), encode_changes_request, decode_changes_request),
        (ChangesRequest(HEAD, 1000, EPOCH), encode_changes_request, decode_changes_request),
        (ChangesResponse(EPOCH, (), 0, False), encode_changes_response, decode_changes_response),
        (
            ChangesResponse(EPOCH, entries(MAX_FEED_ENTRIES, step=7), HEAD * 2, True),
            encode_changes_response,
            decode_changes_response,
        ),
        (
            ChangesResponse(EPOCH, (FeedEntry(MAX_POS, "r", entry_id(1), 0),), MAX_POS, False),
            encode_changes_response,
            decode_changes_response,
        ),
        (BodiesRequest(ids=(entry_id(1),)), encode_bodies_request, decode_bodies_request),
        (
            BodiesRequest((1, 2, 900, HEAD), (entry_id(1), entry_id(2)), EPOCH),
            encode_bodies_request,
            decode_bodies_request,
        ),
        (BodiesResponse(()), encode_bodies_response, decode_bodies_response),
        (BodiesResponse((b"\x94env", b"x" * 900)), encode_bodies_response, decode_bodies_response),
        (IdsRequest(None, MAX_IDS_PAGE), encode_ids_request, decode_ids_request),
        (IdsRequest(entry_id(9), 1), encode_ids_request, decode_ids_request),
        (
            IdsResponse(EPOCH, HEAD, tuple(IdEntry("a", entry_id(i), 1) for i in range(50)), True),
            encode_ids_response,
            decode_ids_response,
        ),
        (Poke(), encode_poke, decode_poke),
        (Poke(HEAD), encode_poke, decode_poke),
    ],
)
def test_messages_round_trip(
    message: object, encode: Callable[[Any], bytes], decode: Callable[[bytes], object]
) -> None:
    data = encode(message)
    assert decode(data) == message
    assert encode(decode(data)) == data


@QUICK
@given(
    st.lists(st.integers(1, 300), max_size=60),
    st.integers(0, 10**9),
    st.booleans(),
)
def test_changes_responses_round_trip(gaps: list[int], start: int, more: bool) -> None:
    positions = [start + sum(gaps[: i + 1]) for i in range(len(gaps))]
    message = ChangesResponse(
        EPOCH,
        tuple(FeedEntry(p, "a", entry_id(p), p % 7) for p in positions),
        (positions[-1] if positions else start) + 3,
        more,
    )
    assert decode_changes_response(encode_changes_response(message)) == message


# --- measured sizes (DESIGN: idle sync <= 512 bytes, catch-up <= 48 bytes an alert) -------


def test_idle_sync_payload_size() -> None:
    request = encode_changes_request(ChangesRequest(HEAD, MAX_FEED_ENTRIES, EPOCH))
    response = encode_changes_response(ChangesResponse(EPOCH, (), HEAD, False))
    assert (len(request), len(response)) == (45, 57)


def test_bytes_per_feed_entry() -> None:
    empty = len(encode_changes_response(ChangesResponse(EPOCH, (), HEAD + 2000, True)))
    page = ChangesResponse(EPOCH, entries(1000), HEAD + 2000, True)
    per_entry = (len(encode_changes_response(page)) - empty) / 1000
    assert 39 <= per_entry < 39.1  # 39 bytes each, the first entry a few more
    sparse = ChangesResponse(EPOCH, entries(1000, step=1000), HEAD * 20, True)
    assert (len(encode_changes_response(sparse)) - empty) / 1000 < 41.1


def test_catch_up_overhead_per_alert() -> None:
    page = entries(MAX_BATCH_IDS, step=3)
    feed = len(encode_changes_response(ChangesResponse(EPOCH, page, HEAD * 2, True)))
    ask = len(encode_bodies_request(BodiesRequest(tuple(e.pos for e in page), (), EPOCH)))
    envelope = b"x" * 600
    bodies = BodiesResponse((envelope,) * MAX_BATCH_IDS)
    framing = len(encode_bodies_response(bodies)) - MAX_BATCH_IDS * len(envelope)
    overhead = (feed + ask + framing) / MAX_BATCH_IDS
    assert overhead <= 48, overhead


# --- bounds -------------------------------------------------------------------------


def test_an_oversized_changes_response_is_refused() -> None:
    wire = {
        "entries": tuple((1, "a", entry_id(i), 0) for i in range(MAX_FEED_ENTRIES + 1)),
        "epoch": EPOCH,
        "more": False,
        "next": HEAD,
    }
    with pytest.raises(LimitExceeded):
        decode_changes_response(pack(wire))
    with pytest.raises(LimitExceeded):
        decode_changes_response(b"\x80" + bytes(70_000))


def test_encoding_refuses_too_many_entries() -> None:
    with pytest.raises(ProtocolError):
        encode_changes_response(ChangesResponse(EPOCH, entries(MAX_FEED_ENTRIES + 1), HEAD, False))


def test_an_oversized_bodies_response_is_refused() -> None:
    big = b"x" * MAX_ENVELOPE_BYTES
    with pytest.raises(LimitExceeded):
        encode_bodies_response(BodiesResponse((big,) * (MAX_BODIES_RESPONSE_BYTES // len(big))))
    with pytest.raises(LimitExceeded):
        decode_bodies_response(pack({"items": (big + b"x",)}))
    with pytest.raises(LimitExceeded):
        decode_bodies_response(pack({"items": (b"x",) * (MAX_BATCH_IDS + 1)}))


def test_fit_bodies_response_fills_the_budget_and_cuts_the_rest() -> None:
    big = b"x" * MAX_ENVELOPE_BYTES
    fitted = fit_bodies_response([(i, big) for i in range(100)])
    data = encode_bodies_response(fitted)
    assert len(data) <= MAX_BODIES_RESPONSE_BYTES
    # Everything asked is accounted for: sent, or left out as size_cut, in order.
    taken = len(fitted.items)
    assert fitted.left == tuple(LeftOut(i, LEFT_SIZE_CUT) for i in range(taken, 100))
    # Even with a full ``left`` the response stays under its cap.
    gone = tuple(LeftOut(bytes([i]) * 32, LEFT_GONE) for i in range(MAX_BATCH_IDS - taken))
    assert len(encode_bodies_response(BodiesResponse(fitted.items, gone))) <= (
        MAX_BODIES_RESPONSE_BYTES
    )
    few = fit_bodies_response([(i, b"x" * 10) for i in range(MAX_BATCH_IDS)])
    assert len(few.items) == MAX_BATCH_IDS and few.left == ()
    small = [bytes([i]) * (i + 200) for i in range(100)]
    fitted_small = fit_bodies_response(enumerate(small), (LeftOut(500, LEFT_NOT_YOURS),))
    assert fitted_small.items == tuple(small)
    assert fitted_small.left == (LeftOut(500, LEFT_NOT_YOURS),)


def test_an_oversized_bodies_request_is_refused() -> None:
    ids = tuple(entry_id(i) for i in range(MAX_BATCH_IDS))
    with pytest.raises(InvalidField, match="at most"):
        encode_bodies_request(BodiesRequest((1,), ids, EPOCH))
    with pytest.raises(LimitExceeded):
        decode_bodies_request(
            pack({"epoch": None, "ids": (*ids, entry_id(-1 % 2**32)), "positions": ()})
        )


def test_small_messages_have_small_caps() -> None:
    with pytest.raises(LimitExceeded):
        decode_changes_request(pack({"since": 1, "limit": 1, "epoch": b"x" * 200}))
    with pytest.raises(LimitExceeded):
        decode_poke(pack({"head": 1, "x": "y" * 200}))


# --- malformed input ----------------------------------------------------------------


@pytest.mark.parametrize("decode", DECODERS)
@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",  # never used in msgpack
        b"\x81\xa1a",  # truncated
        b"\x80\x80",  # two values
        b"\xcc\x01",  # 1 written in two bytes: not canonical
        b"\xca\x00\x00\x00\x00",  # a float
        b"\x90",  # an array, not a map
        b"\x80",  # a map without the fields
    ],
)
def test_malformed_msgpack_is_refused(decode: Callable[[bytes], object], data: bytes) -> None:
    with pytest.raises((MalformedObject, InvalidField)):
        decode(data)


@pytest.mark.parametrize("decode", DECODERS)
def test_extension_types_are_refused(decode: Callable[[bytes], object]) -> None:
    # encoding.unpack caps extension length at 0, so msgpack reports it as a limit.
    with pytest.raises((MalformedObject, LimitExceeded)):
        decode(b"\xd4\x01\x00")


def test_unsorted_and_unknown_keys_are_refused() -> None:
    with pytest.raises(MalformedObject, match="canonical"):
        decode_changes_request(raw({"since": 1, "limit": 1, "epoch": None}))
    with pytest.raises(MalformedObject, match="unknown fields"):
        decode_poke(pack({"head": None, "tail": None}))


# --- field refusals -----------------------------------------------------------------


def changes_wire(**changes: Any) -> bytes:
    wire: dict[str, Any] = {
        "entries": ((HEAD, "a", entry_id(1), 0), (1, "r", entry_id(2), 1)),
        "epoch": EPOCH,
        "more": False,
        "next": HEAD + 1,
        "reset": False,
    }
    wire.update(changes)
    return pack(wire)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"epoch": None}, "epoch"),
        ({"epoch": EPOCH[:8]}, "epoch"),
        ({"next": HEAD}, "next"),  # before the last entry
        ({"next": -1}, "next"),
        ({"next": MAX_POS + 1}, "next"),
        ({"more": 0}, "more"),
        ({"entries": ((HEAD, "a", entry_id(1), 0), (0, "r", entry_id(2), 1))}, "entries"),
        ({"entries": ((-1, "a", entry_id(1), 0),)}, "entries"),
        ({"entries": ((MAX_POS, "a", entry_id(1), 0), (1, "a", entry_id(2), 0))}, "entries"),
        ({"entries": ((1, "x", entry_id(1), 0),)}, "entries"),
        ({"entries": ((1, "a", entry_id(1)[:31], 0),)}, "entries"),
        ({"entries": ((1, "a", entry_id(1), MAX_HOPS + 1),)}, "entries"),
        ({"entries": ((1, "a", entry_id(1), -1),)}, "entries"),
        ({"entries": ((1, "a", entry_id(1), False),)}, "entries"),
        ({"entries": ((True, "a", entry_id(1), 0),)}, "entries"),
        ({"entries": ((1, "a", entry_id(1)),)}, "entries"),
        ({"entries": (1,)}, "entries"),
        ({"entries": 1}, "entries"),
        ({"reset": 1}, "reset"),
        ({"reset": True}, "reset"),  # with entries
        ({"reset": True, "entries": (), "more": True}, "reset"),
    ],
)
def test_bad_changes_responses_are_refused(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as info:
        decode_changes_response(changes_wire(**changes))
    assert info.value.field == field


@pytest.mark.parametrize(
    ("wire", "field"),
    [
        ({"since": -1, "limit": 1, "epoch": None}, "since"),
        ({"since": 0, "limit": 0, "epoch": None}, "limit"),
        ({"since": 0, "limit": MAX_FEED_ENTRIES + 1, "epoch": None}, "limit"),
        ({"since": 0, "limit": 1, "epoch": b"x"}, "epoch"),
        ({"since": 0, "limit": 1}, "epoch"),
        # A nil epoch is a first sync: it starts at 0.
        ({"since": 5, "limit": 1, "epoch": None}, "since"),
    ],
)
def test_bad_changes_requests_are_refused(wire: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as info:
        decode_changes_request(pack(wire))
    assert info.value.field == field


@pytest.mark.parametrize(
    ("wire", "field"),
    [
        ({"epoch": None, "positions": (), "ids": ()}, "ids"),
        ({"epoch": None, "positions": (1,), "ids": ()}, "epoch"),
        ({"epoch": EPOCH, "positions": (5, 0), "ids": ()}, "positions"),
        ({"epoch": EPOCH, "positions": ("5",), "ids": ()}, "positions"),
        ({"epoch": None, "positions": (), "ids": (entry_id(1), entry_id(1))}, "ids"),
        ({"epoch": None, "positions": (), "ids": (b"short",)}, "ids"),
    ],
)
def test_bad_bodies_requests_are_refused(wire: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as info:
        decode_bodies_request(pack(wire))
    assert info.value.field == field


def test_bad_bodies_responses_are_refused() -> None:
    with pytest.raises(InvalidField):
        decode_bodies_response(pack({"items": (b"",)}))
    with pytest.raises(InvalidField):
        decode_bodies_response(pack({"items": ("text",)}))


def test_bad_ids_messages_are_refused() -> None:
    with pytest.raises(InvalidField, match="sorted"):
        decode_ids_response(
            pack(
                {
                    "entries": (("a", entry_id(2), 0), ("a", entry_id(1), 0)),
                    "epoch": EPOCH,
                    "head": HEAD,
                    "more": False,
                }
            )
        )
    with pytest.raises(InvalidField):
        decode_ids_request(pack({"after": b"x", "limit": 1}))
    with pytest.raises(InvalidField):
        decode_ids_request(pack({"after": None, "limit": MAX_IDS_PAGE + 1}))


def test_encoding_refuses_what_a_peer_would_refuse() -> None:
    with pytest.raises(InvalidField):
        encode_changes_response(ChangesResponse(EPOCH, entries(3, step=-1), HEAD * 2, False))
    with pytest.raises(InvalidField):
        encode_changes_request(ChangesRequest(0, 0))
    with pytest.raises(LocalProtocolError):
        encode_poke(Poke(2**70))
    with pytest.raises(LocalProtocolError):
        encode_bodies_request(BodiesRequest(ids=[entry_id(1)]))  # type: ignore[arg-type]


# --- only protocol errors ------------------------------------------------------------


@QUICK
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_protocol_errors(data: bytes) -> None:
    for decode in DECODERS:
        with contextlib.suppress(ProtocolError):
            decode(data)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=8)
    | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=5).map(tuple)
        | st.dictionaries(
            st.sampled_from(["epoch", "entries", "next", "more", "ids", "x"]), children
        )
    ),
    max_leaves=12,
)


@QUICK
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "epoch",
                "entries",
                "next",
                "more",
                "since",
                "limit",
                "head",
                "ids",
                "positions",
                "items",
                "after",
            ]
        ),
        msgpack_values,
        max_size=5,
    )
)
def test_arbitrary_maps_raise_only_protocol_errors(value: dict[str, Any]) -> None:
    data = pack(value)
    for decode in DECODERS:
        with contextlib.suppress(ProtocolError):
            decode(data)
