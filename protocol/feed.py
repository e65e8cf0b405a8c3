"""Changes-feed messages: how a node asks a peer what it may have and fetches it.

Rule: every message has a hard byte cap and a count cap, both enforced by msgpack
before a value is built (``LimitExceeded``), and is read field by field
(``InvalidField`` / ``MalformedObject``). Encoding runs the decoder on its own output,
so a node never sends what a peer would refuse. These messages travel as the bodies
of signed requests (protocol.request) to versioned paths, so they carry no version.

The exchange (positions are the server's log numbers, valid within one epoch):

    ChangesRequest  {"since": int, "limit": int, "epoch": bin16 | nil}
    ChangesResponse {"epoch": bin16, "entries": [[dpos, kind, id, hops], ...],
                     "next": int, "more": bool, "reset": bool}
    BodiesRequest   {"epoch": bin16 | nil, "positions": [dpos, ...], "ids": [bin32, ...]}
    BodiesResponse  {"items": [envelope bytes, ...], "left": [[pos | bin32, code], ...]}
    IdsRequest      {"after": bin32 | nil, "limit": int}
    IdsResponse     {"epoch": bin16, "head": int, "entries": [[kind, id, hops], ...],
                     "more": bool}
    Poke            {"head": int | nil}
                    (ext "org.alertnode:news": [id, hops, id, hops, ...], optional)

Every message may also carry ``ext`` (a map of namespaced keys, kept and ignored) and
``must_understand`` (ext keys the receiver must understand, else it refuses the
message with UnsupportedExtension); both are omitted when empty. A nil epoch in a
ChangesRequest means "no cursor yet" and is refused with a ``since`` other than 0.
Map keys go out sorted (protocol.encoding). Positions in a list travel as deltas:
the first as itself, each next one as the difference from the one before (always
>= 1), so the list is strictly increasing by construction and a nearby position
costs one byte.

Sizes (measured in tests/protocol/test_feed.py):
- idle sync: a ChangesRequest with an epoch is 45 bytes and an empty ChangesResponse
  is 57 bytes (positions near 10**5), 102 bytes of payload for the round trip, plus
  the ~167-character request signature header (protocol.request) and HTTP framing;
- a FeedEntry is 39 bytes when its position is within 127 of the one before; 40 to
  47 bytes otherwise (the first entry of a page, or a gap in what the peer may see);
- fetching a missing alert by position adds about 1 byte to the BodiesRequest and 3
  bytes of framing around its envelope in the BodiesResponse: about 43 bytes over the
  alert's own bytes during catch-up. Fetching by id (after an epoch change) costs 34
  bytes of id instead of about 1.

Epochs: the server answers every ChangesRequest with its current epoch. If it differs
from the one the requester sent, or ``since`` lies beyond the server's last position,
the requester's cursor means nothing: the server returns no entries and ``reset``
true; the requester lists ids with IdsRequest (sorted by id, in
pages), fetches by id only what it lacks, then resumes the feed from the ``head`` of
the first IdsResponse page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .errors import InvalidField
from .extensions import OptionalExt as Ext
from .extensions import optional_ext_wire as ext_wire
from .framing import (
    FEED_KINDS,
    MAX_POS,
    delta_decode,
    delta_encode,
    encode_checked,
    message_limits,
    read_epoch,
    read_map,
    strict_bool,
)
from .limits import MAX_ENVELOPE_BYTES, MAX_EXT_KEYS, MAX_HOPS
from .signing import ID_BYTES

MAX_FEED_ENTRIES = 1000
MAX_IDS_PAGE = 1000
# One bodies request asks for at most this many items, positions and ids together;
# its response accounts for each of them once, in ``items`` or in ``left``.
MAX_BATCH_IDS = 256
# A page of 1000 entries is at most ~47 KB; the caps leave room and stop there.
MAX_CHANGES_RESPONSE_BYTES = 64 * 1024
MAX_IDS_RESPONSE_BYTES = 64 * 1024
MAX_BODIES_REQUEST_BYTES = 16 * 1024
# A server stops adding envelopes before this; the requester asks again for the rest.
MAX_BODIES_RESPONSE_BYTES = 1024 * 1024
MAX_SMALL_MESSAGE_BYTES = 512
# A poke may name the poker's news (docs/protocol.md section 10, "A poke that names
# its news"): every entry it added to the feed the receiver sees since its last poke
# to it, at most this many: a list of a feed message's ext holds 8 scalars.
NEWS_EXT = "org.alertnode:news"
MAX_POKE_NEWS = 4
# Why a bodies response left out an item the requester asked for.
LEFT_SIZE_CUT = "size_cut"  # the response hit its byte cap: ask again
LEFT_GONE = "gone"  # retracted, expired or purged since: do not ask again
LEFT_NOT_YOURS = "not_yours"  # not served to this caller by policy: do not ask again
LEFT_REASONS: tuple[str, ...] = (LEFT_SIZE_CUT, LEFT_GONE, LEFT_NOT_YOURS)
# {"items": [...], "left": [...]}: map header, two keys, two array headers.
_BODIES_RESPONSE_FRAME_BYTES = 1 + 6 + 3 + 5 + 3
# Room kept for ``left`` under the byte cap: 256 entries of at most 47 bytes.
LEFT_RESERVE_BYTES = MAX_BATCH_IDS * 47


_SMALL_LIMITS = message_limits(MAX_SMALL_MESSAGE_BYTES, MAX_EXT_KEYS)
_CHANGES_LIMITS = message_limits(MAX_CHANGES_RESPONSE_BYTES, MAX_FEED_ENTRIES)
_IDS_LIMITS = message_limits(MAX_IDS_RESPONSE_BYTES, MAX_IDS_PAGE)
_BODIES_REQUEST_LIMITS = message_limits(MAX_BODIES_REQUEST_BYTES, MAX_BATCH_IDS)
_BODIES_RESPONSE_LIMITS = message_limits(
    MAX_BODIES_RESPONSE_BYTES, MAX_BATCH_IDS, MAX_ENVELOPE_BYTES
)


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One log entry a peer may have: its position, kind ("a"/"r"), id and hops.

    ``hops`` is how many trust edges the item crossed to reach the serving node
    (0: the server is its origin); the receiver stores ``hops + 1``.
    """

    pos: int
    kind: str
    id: bytes
    hops: int


@dataclass(frozen=True, slots=True)
class ChangesRequest:
    """ "What may I have after position ``since``?" ``epoch`` is None on a first sync."""

    since: int
    limit: int
    epoch: bytes | None = None
    ext: Ext = ()


@dataclass(frozen=True, slots=True)
class ChangesResponse:
    """Entries in log order; ``next`` is the cursor to save once they are durable.

    ``reset``: the requester's cursor means nothing here (another epoch, or ``since``
    beyond the server's last position); it lists ids instead (IdsRequest)."""

    epoch: bytes
    entries: tuple[FeedEntry, ...]
    next: int
    more: bool
    reset: bool = False
    ext: Ext = ()


@dataclass(frozen=True, slots=True)
class BodiesRequest:
    """Envelopes wanted, by log position (within ``epoch``) and/or by id."""

    positions: tuple[int, ...] = ()
    ids: tuple[bytes, ...] = ()
    epoch: bytes | None = None
    ext: Ext = ()


@dataclass(frozen=True, slots=True)
class LeftOut:
    """An item asked for and not sent: ``ref`` is the position or id it was asked by."""

    ref: int | bytes
    reason: str


@dataclass(frozen=True, slots=True)
class BodiesResponse:
    """Envelope bytes, each to be verified by its kind, and what was left out and why."""

    items: tuple[bytes, ...]
    left: tuple[LeftOut, ...] = ()
    ext: Ext = ()


@dataclass(frozen=True, slots=True)
class IdEntry:
    """One id a peer may have, for the id diff after an epoch change."""

    kind: str
    id: bytes
    hops: int


@dataclass(frozen=True, slots=True)
class IdsRequest:
    """A page of ids greater than ``after`` (None: from the start), sorted by id."""

    after: bytes | None
    limit: int
    ext: Ext = ()


@dataclass(frozen=True, slots=True)
class IdsResponse:
    """A page of ids; ``head`` is the server's last log position when it answered."""

    epoch: bytes
    head: int
    entries: tuple[IdEntry, ...]
    more: bool
    ext: Ext = ()


@dataclass(frozen=True, slots=True)
class Poke:
    """ "I stored something new": the receiver pulls now. ``head`` is the poker's last
    log position, if it wants to say."""

    head: int | None = None
    ext: Ext = ()


def _entry_fields(key: str, kind: object, id_: object, hops: object) -> tuple[str, bytes, int]:
    if not isinstance(kind, str) or kind not in FEED_KINDS:
        raise InvalidField(key, 'an entry\'s kind is "a" (alert) or "r" (retraction)')
    if not isinstance(id_, bytes) or len(id_) != ID_BYTES:
        raise InvalidField(key, f"an entry's id is {ID_BYTES} bytes")
    if isinstance(hops, bool) or not isinstance(hops, int) or not 0 <= hops <= MAX_HOPS:
        raise InvalidField(key, f"an entry's hops is between 0 and {MAX_HOPS}")
    return kind, id_, hops


# ChangesRequest


def decode_changes_request(data: bytes) -> ChangesRequest:
    """Raises LimitExceeded, MalformedObject or InvalidField (UnsupportedExtension)."""
    r, ext = read_map(data, _SMALL_LIMITS, "changes request")
    since = r.integer("since", 0, MAX_POS)
    limit = r.integer("limit", 1, MAX_FEED_ENTRIES)
    epoch = read_epoch(r, "epoch", optional=True)
    r.finish()
    if epoch is None and since != 0:
        raise InvalidField("since", "is 0 when there is no epoch (a first sync)")
    return ChangesRequest(since, limit, epoch, ext)


def encode_changes_request(message: ChangesRequest) -> bytes:
    """Raises LocalProtocolError or InvalidField for a request a server would refuse."""
    wire = {"since": message.since, "limit": message.limit, "epoch": message.epoch}
    return encode_checked(message, wire | ext_wire(message.ext), decode_changes_request)


# ChangesResponse


def decode_changes_response(data: bytes) -> ChangesResponse:
    """Raises LimitExceeded, MalformedObject or InvalidField (UnsupportedExtension)."""
    r, ext = read_map(data, _CHANGES_LIMITS, "changes response")
    epoch = read_epoch(r, "epoch", optional=False)
    raw = r.items("entries", MAX_FEED_ENTRIES)
    deltas: list[object] = []
    rest: list[tuple[object, object, object]] = []
    for item in raw:
        if not isinstance(item, tuple) or len(item) != 4:
            raise InvalidField("entries", "each entry is [position, kind, id, hops]")
        deltas.append(item[0])
        rest.append((item[1], item[2], item[3]))
    positions = delta_decode("entries", tuple(deltas))
    entries = tuple(
        FeedEntry(pos, *_entry_fields("entries", *fields))
        for pos, fields in zip(positions, rest, strict=True)
    )
    next_pos = r.integer("next", 0, MAX_POS)
    if entries and entries[-1].pos > next_pos:
        raise InvalidField("next", "must not be before the last entry")
    more = strict_bool(r, "more")
    reset = strict_bool(r, "reset")
    r.finish()
    if reset and (entries or more):
        raise InvalidField("reset", "comes with no entries and more false")
    assert epoch is not None
    return ChangesResponse(epoch, entries, next_pos, more, reset, ext)


def encode_changes_response(message: ChangesResponse) -> bytes:
    """Raises LocalProtocolError or InvalidField (entries out of order, too many, ...)."""
    entries = message.entries
    deltas = delta_encode(tuple(e.pos for e in entries))
    wire = {
        "epoch": message.epoch,
        "entries": tuple((d, e.kind, e.id, e.hops) for d, e in zip(deltas, entries, strict=True)),
        "next": message.next,
        "more": message.more,
        "reset": message.reset,
    }
    return encode_checked(message, wire | ext_wire(message.ext), decode_changes_response)


# BodiesRequest


def decode_bodies_request(data: bytes) -> BodiesRequest:
    """Raises LimitExceeded, MalformedObject or InvalidField (UnsupportedExtension)."""
    r, ext = read_map(data, _BODIES_REQUEST_LIMITS, "bodies request")
    epoch = read_epoch(r, "epoch", optional=True)
    positions = delta_decode("positions", r.items("positions", MAX_BATCH_IDS))
    raw_ids = r.items("ids", MAX_BATCH_IDS)
    r.finish()
    ids: list[bytes] = []
    for id_ in raw_ids:
        if not isinstance(id_, bytes) or len(id_) != ID_BYTES:
            raise InvalidField("ids", f"each id is {ID_BYTES} bytes")
        ids.append(id_)
    if len(set(ids)) != len(ids):
        raise InvalidField("ids", "must not repeat an id")
    if not positions and not ids:
        raise InvalidField("ids", "a bodies request asks for at least one item")
    if len(positions) + len(ids) > MAX_BATCH_IDS:
        raise InvalidField(
            "ids", f"a bodies request asks for at most {MAX_BATCH_IDS} items, positions and ids"
        )
    if positions and epoch is None:
        raise InvalidField("epoch", "is needed to ask by position")
    return BodiesRequest(positions, tuple(ids), epoch, ext)


def encode_bodies_request(message: BodiesRequest) -> bytes:
    """Raises LocalProtocolError or InvalidField."""
    wire = {
        "epoch": message.epoch,
        "positions": delta_encode(message.positions),
        "ids": message.ids,
    }
    return encode_checked(message, wire | ext_wire(message.ext), decode_bodies_request)


# BodiesResponse


def _left_out(item: object) -> LeftOut:
    if not isinstance(item, tuple) or len(item) != 2:
        raise InvalidField("left", "each entry is [position or id, reason]")
    ref, reason = item
    if isinstance(ref, bool) or not (
        (isinstance(ref, int) and 0 <= ref <= MAX_POS)
        or (isinstance(ref, bytes) and len(ref) == ID_BYTES)
    ):
        raise InvalidField("left", f"a left-out item is a position or a {ID_BYTES}-byte id")
    if reason not in LEFT_REASONS:
        raise InvalidField("left", f"a reason is one of {', '.join(LEFT_REASONS)}")
    assert isinstance(reason, str)
    return LeftOut(ref, reason)


def decode_bodies_response(data: bytes) -> BodiesResponse:
    """Raises LimitExceeded, MalformedObject or InvalidField. Items are not verified."""
    r, ext = read_map(data, _BODIES_RESPONSE_LIMITS, "bodies response")
    raw = r.items("items", MAX_BATCH_IDS)
    left = tuple(_left_out(item) for item in r.items("left", MAX_BATCH_IDS))
    r.finish()
    items: list[bytes] = []
    for item in raw:
        if not isinstance(item, bytes) or not item:
            raise InvalidField("items", "each item is the bytes of an envelope")
        items.append(item)
    if len(items) + len(left) > MAX_BATCH_IDS:
        raise InvalidField("left", f"items and left together are at most {MAX_BATCH_IDS}")
    if len({x.ref for x in left}) != len(left):
        raise InvalidField("left", "must not repeat an item")
    return BodiesResponse(tuple(items), left, ext)


def fit_bodies_response(
    found: Iterable[tuple[int | bytes, bytes]],
    left: Iterable[LeftOut] = (),
    max_bytes: int = MAX_BODIES_RESPONSE_BYTES,
) -> BodiesResponse:
    """The longest leading run of ``found`` (ref, envelope) that fits one response;
    the rest are left out as ``size_cut``, after ``left`` (already decided).

    A server passes what it found in the order asked; the requester asks again for
    the ``size_cut`` items.
    """
    taken: list[bytes] = []
    cut: list[LeftOut] = []
    size = _BODIES_RESPONSE_FRAME_BYTES + LEFT_RESERVE_BYTES
    for ref, item in found:
        size += len(item) + (2 if len(item) < 2**8 else 3 if len(item) < 2**16 else 5)
        cap = min(max_bytes, MAX_BODIES_RESPONSE_BYTES)
        if cut or len(taken) == MAX_BATCH_IDS or size > cap:
            cut.append(LeftOut(ref, LEFT_SIZE_CUT))
        else:
            taken.append(item)
    return BodiesResponse(tuple(taken), (*left, *cut))


def encode_bodies_response(message: BodiesResponse) -> bytes:
    """Raises LimitExceeded if the items are too many or too large together."""
    wire = {"items": message.items, "left": tuple((x.ref, x.reason) for x in message.left)}
    return encode_checked(message, wire | ext_wire(message.ext), decode_bodies_response)


# IdsRequest / IdsResponse


def decode_ids_request(data: bytes) -> IdsRequest:
    """Raises LimitExceeded, MalformedObject or InvalidField (UnsupportedExtension)."""
    r, ext = read_map(data, _SMALL_LIMITS, "ids request")
    after = r.blob("after", ID_BYTES, optional=True)
    limit = r.integer("limit", 1, MAX_IDS_PAGE)
    r.finish()
    return IdsRequest(after, limit, ext)


def encode_ids_request(message: IdsRequest) -> bytes:
    """Raises LocalProtocolError or InvalidField."""
    wire = {"after": message.after, "limit": message.limit}
    return encode_checked(message, wire | ext_wire(message.ext), decode_ids_request)


def decode_ids_response(data: bytes) -> IdsResponse:
    """Raises LimitExceeded, MalformedObject or InvalidField (UnsupportedExtension)."""
    r, ext = read_map(data, _IDS_LIMITS, "ids response")
    epoch = read_epoch(r, "epoch", optional=False)
    head = r.integer("head", 0, MAX_POS)
    entries: list[IdEntry] = []
    for item in r.items("entries", MAX_IDS_PAGE):
        if not isinstance(item, tuple) or len(item) != 3:
            raise InvalidField("entries", "each entry is [kind, id, hops]")
        entry = IdEntry(*_entry_fields("entries", *item))
        if entries and entry.id <= entries[-1].id:
            raise InvalidField("entries", "must be sorted by id, without repeats")
        entries.append(entry)
    more = strict_bool(r, "more")
    r.finish()
    assert epoch is not None
    return IdsResponse(epoch, head, tuple(entries), more, ext)


def encode_ids_response(message: IdsResponse) -> bytes:
    """Raises LocalProtocolError or InvalidField."""
    wire = {
        "epoch": message.epoch,
        "head": message.head,
        "entries": tuple((e.kind, e.id, e.hops) for e in message.entries),
        "more": message.more,
    }
    return encode_checked(message, wire | ext_wire(message.ext), decode_ids_response)


# Poke


def decode_poke(data: bytes) -> Poke:
    """Raises LimitExceeded, MalformedObject or InvalidField (UnsupportedExtension)."""
    r, ext = read_map(data, _SMALL_LIMITS, "poke")
    head = r.raw("head")
    if head is not None and (
        isinstance(head, bool) or not isinstance(head, int) or not 0 <= head <= MAX_POS
    ):
        raise InvalidField("head", f"must be a position between 0 and {MAX_POS}")
    r.finish()
    poke = Poke(head, ext)
    poke_news(poke)
    return poke


def news_ext(entries: Iterable[IdEntry]) -> Ext:
    """The ``ext`` of a poke that names ``entries`` as all its news (1 to MAX_POKE_NEWS):
    their ids and hop counts, alternating."""
    return ((NEWS_EXT, tuple(x for e in entries for x in (e.id, e.hops))),)


def poke_news(poke: Poke) -> tuple[IdEntry, ...] | None:
    """The entries ``poke`` names as all the poker's news for this receiver (each an
    alert or a retraction: the kind is not said, "a" stands for both), or None when it
    does not say. Raises InvalidField ``ext`` for a malformed list."""
    raw = dict(poke.ext).get(NEWS_EXT)
    if raw is None:
        return None
    if not isinstance(raw, tuple) or not raw or len(raw) % 2 or len(raw) > 2 * MAX_POKE_NEWS:
        raise InvalidField(
            "ext", f"{NEWS_EXT} is a list of 1 to {MAX_POKE_NEWS} pairs of id and hops"
        )
    news: list[IdEntry] = []
    for i in range(0, len(raw), 2):
        entry = IdEntry(*_entry_fields("ext", "a", raw[i], raw[i + 1]))
        if any(e.id == entry.id for e in news):
            raise InvalidField("ext", f"{NEWS_EXT} names an id twice")
        news.append(entry)
    return tuple(news)


def encode_poke(message: Poke) -> bytes:
    """Raises LocalProtocolError or InvalidField."""
    return encode_checked(message, {"head": message.head} | ext_wire(message.ext), decode_poke)
