"""The federation server logic: the routes peers call, behind request authentication,
with no I/O of its own (``federation.https.federation_app`` puts it behind aiohttp,
``federation.memory`` calls it directly).

Rule: a request without the signature header is a stranger's, not a peer's: on any
path and with any method it gets the plain 404 any web server gives, and nothing
about the protocol. Otherwise the node must be unlocked and size caps are checked
before any work; then the request signature, the destination, the clock window, the
caller's standing on the trust list, the caller's rate limit and the nonce window, in
that order (the rate limit and the nonce window are the caller's trust-list entry's,
whatever key it signs with now); only then does a route run, and it serves only
what ``peers.may_serve`` allows that caller. Every refusal of a signed request is a msgpack map
``{"code", "message"[, "field"]}`` with a code from ``errors.WIRE_CODES`` and its
status (and Retry-After where waiting helps), and leaves storage untouched but for
the nonce it carried, once it got as far as the replay window.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace

import nacl.signing

from protocol import feed
from protocol.errors import ProtocolError
from protocol.move import verify_move
from protocol.pins import verify_pins
from protocol.request import REQUEST_HEADER, verify_request
from protocol.rotation import VerifiedRotation, verify_rotation

from .clock import Clock
from .errors import WIRE_CODES, Unauthorised, refusal_body
from .errors import retry_after_s as retry_after_text
from .interfaces import FeedRowLike, FeedStore, PeerStore
from .netkeys import PATH as NETKEYS_PATH
from .netkeys import KeyExchange
from .quota import MAX_RELAYED_STATEMENTS_PER_PEER, MIN_ROTATION_INTERVAL_S, PeerRateLimiter
from .replay import ReplayGuard
from .transport import BASE_PATH, FED_PATH, VERSION
from .trust import Peer, may_serve

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = feed.MAX_BODIES_REQUEST_BYTES
# How many log rows one changes request may scan while filtering for the caller.
MAX_SCAN_ROWS = 4 * feed.MAX_FEED_ENTRIES
MSGPACK = "application/msgpack"
TEXT = "text/plain"
# What a locked node asks callers to wait before trying again.
LOCKED_RETRY_AFTER_S = 60
_VERSION_RE = re.compile(re.escape(FED_PATH) + r"v([0-9]{1,6})(?:/|$)")
# What a stranger (no signature header) gets: what any web server says.
NOT_FOUND_TEXT = "404: Not Found"


@dataclass(frozen=True, slots=True)
class Reply:
    """What the server answers: an HTTP status, a body and its content type.
    ``from_peer``: the request was signed by a trusted peer and its signature, key
    and nonce checked out (whatever its route answered), so its connection may idle
    longer (federation.listener); never sent."""

    status: int
    body: bytes = b""
    content_type: str = MSGPACK
    headers: Mapping[str, str] = field(default_factory=dict)
    from_peer: bool = False


def refuse(
    code: str, message: str, *, field: str | None = None, retry_after_s: float | None = None
) -> Reply:
    """The answer to a signed request refused with ``code`` (one of WIRE_CODES)."""
    status = WIRE_CODES[code].status or 400
    headers = {} if retry_after_s is None else {"Retry-After": retry_after_text(retry_after_s)}
    return Reply(status, refusal_body(code, message, field), MSGPACK, headers)


def refuse_error(exc: ProtocolError | Unauthorised) -> Reply:
    """The answer for an error raised while checking or serving a signed request."""
    code = exc.code if exc.code in WIRE_CODES else "malformed"
    field = exc.field if isinstance(exc, ProtocolError) else None
    return refuse(code, exc.message, field=field)


def not_found() -> Reply:
    """What a request without the signature header gets, on every path."""
    return Reply(404, NOT_FOUND_TEXT.encode(), TEXT)


def internal_error() -> Reply:
    """What a signed request gets when serving it failed (the store, a bug)."""
    return refuse("internal", "this node could not answer; try again later")


def is_signed(headers: Mapping[str, str]) -> bool:
    return REQUEST_HEADER in headers


@dataclass
class ServerState:
    """What the server works with; ``key`` and ``limiter`` may be replaced while it runs."""

    key: nacl.signing.SigningKey
    store: FeedStore
    peers: PeerStore
    clock: Clock
    # Called with the poker and the news its poke named (None: it did not say).
    on_poke: Callable[[Peer, tuple[feed.IdEntry, ...] | None], Awaitable[None]]
    locked: Callable[[], bool]
    nonces: ReplayGuard
    limiter: PeerRateLimiter = field(default_factory=PeerRateLimiter)
    on_rotate: Callable[[bytes, bytes], Awaitable[None]] | None = None
    # A rotation statement this node had not seen, and the peer it came from: the
    # node passes it on to its other peers (docs/protocol.md section 11).
    on_statement: Callable[[VerifiedRotation, bytes, Peer], Awaitable[None]] | None = None
    # A peer moved to new URLs (a move statement was applied): sync with it again now.
    on_moved: Callable[[Peer], Awaitable[None]] | None = None
    # The byte cap of one bodies response (the wire cap; tests make it small).
    bodies_budget_bytes: int = feed.MAX_BODIES_RESPONSE_BYTES
    key_exchange: KeyExchange | None = None
    # The path prefixes this node answers under: the path of each URL in its card,
    # without a trailing "/" ("" for a URL with no path). See ``url_prefix``.
    prefixes: tuple[str, ...] = ("",)
    # A peer's own rotations: one per this many seconds; others' statements a peer
    # may pass on (named limits in quota.py; tests make them small).
    min_rotation_interval_s: int = MIN_ROTATION_INTERVAL_S
    max_relayed_statements: int = MAX_RELAYED_STATEMENTS_PER_PEER


Route = Callable[[ServerState, Peer, bytes], Awaitable[Reply]]


class FederationServer:
    """Answers one authenticated federation request at a time, transport-neutral."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def refuse_early(self, headers: Mapping[str, str], content_length: int | None) -> Reply | None:
        """The refusals due before a request body is read: no signature header (a
        plain 404), a locked node, a declared size over the cap."""
        if not is_signed(headers):
            return not_found()
        if self.state.locked():
            return refuse(
                "locked", "this node is locked; try again later",
                retry_after_s=LOCKED_RETRY_AFTER_S,
            )  # fmt: skip
        if content_length is not None and content_length > MAX_REQUEST_BYTES:
            return self.too_large()
        return None

    def too_large(self) -> Reply:
        return refuse("too_large", f"the request body is over {MAX_REQUEST_BYTES} bytes")

    async def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        """Authenticate the request, then run its route.

        Refusals are replies; only a failure of the store itself raises."""
        early = self.refuse_early(headers, len(body))
        if early is not None:
            return early
        state = self.state
        now = state.clock.now()
        try:
            auth = verify_request(
                headers.get(REQUEST_HEADER, ""),
                method,
                raw_path,
                body,
                bytes(state.key.verify_key),
                now,
            )
        except ProtocolError as exc:
            return refuse_error(exc)
        peer = await state.peers.get(auth.origin)
        if peer is None:
            return refuse("unknown_node", "this node does not know the key that signed the request")
        if peer.suspended:
            return refuse("suspended", "this node has suspended federation with yours")
        bodies = raw_path.endswith("/bodies")
        if not state.limiter.allow(peer.entry_id, state.clock.monotonic(), bodies):
            return refuse(
                "rate_limited", "too many requests; slow down",
                retry_after_s=state.limiter.retry_after_s(bodies),
            )  # fmt: skip
        if await state.nonces.seen(peer.entry_id, auth.nonce, auth.timestamp, now):
            return refuse("replayed", "this request was seen before; sign a new one")
        return replace(await self._route(state, peer, method, raw_path, body), from_peer=True)

    async def _route(
        self, state: ServerState, peer: Peer, method: str, raw_path: str, body: bytes
    ) -> Reply:
        route = find_route(raw_path, state.prefixes)
        if isinstance(route, Reply):
            return route
        if method != "POST":
            reply = refuse("method_not_allowed", "federation routes take POST only")
            return Reply(reply.status, reply.body, reply.content_type, {"Allow": "POST"})
        try:
            return await route(state, peer, body)
        except (ProtocolError, Unauthorised) as exc:
            return refuse_error(exc)


def url_prefix(url: str) -> str:
    """The path prefix a card URL puts before ``/fed/v<n>/``: its path without a
    trailing "/" ("" when it has none), e.g. "/alerts" for https://host/alerts/."""
    return urllib.parse.urlsplit(url).path.rstrip("/")


def find_route(raw_path: str, prefixes: tuple[str, ...]) -> Route | Reply:
    """The route a signed request's path names, or the refusal it gets.

    The path (its query aside) must be one of this node's prefixes followed by
    ``/fed/v<n>/<route>``, exactly: ``not_found`` otherwise, and
    ``unsupported_version`` when it names a federation version this node does not
    speak. The request signature covers the whole path, prefix included, so nothing
    here widens what a signature allows."""
    path = raw_path.partition("?")[0]
    for prefix in sorted(prefixes, key=len, reverse=True):
        if path.startswith(prefix + FED_PATH):
            rest = path[len(prefix) :]
            break
    else:
        return refuse("not_found", "there is no such federation route")
    route = ROUTES.get(rest)
    if route is not None:
        return route
    version = _VERSION_RE.match(rest)
    if version is not None and int(version.group(1)) != VERSION:
        return refuse(
            "unsupported_version",
            f"this node speaks federation version {VERSION} ({BASE_PATH}/), not that one",
        )
    return refuse("not_found", "there is no such federation route")


def _require_share(peer: Peer) -> None:
    if not peer.share:
        raise Unauthorised("not_shared", "this node does not share alerts with yours")


async def changes(state: ServerState, peer: Peer, body: bytes) -> Reply:
    _require_share(peer)
    req = feed.decode_changes_request(body)
    epoch = await state.store.epoch()
    if (req.epoch is not None and req.epoch != epoch) or req.since > await state.store.last_pos():
        # The caller's cursor means nothing here (a restore, or its own bad state):
        # it falls back to the id diff rather than silently getting nothing.
        reset = feed.ChangesResponse(epoch, (), 0, False, reset=True)
        return Reply(200, feed.encode_changes_response(reset))
    now = state.clock.now()
    limit = min(req.limit, feed.MAX_FEED_ENTRIES)
    entries: list[feed.FeedEntry] = []
    cursor, scanned, more = req.since, 0, False
    while len(entries) < limit and scanned < MAX_SCAN_ROWS:
        rows = await state.store.feed(cursor, limit)
        if not rows:
            break
        for row in rows:
            scanned += 1
            cursor = row.pos
            if may_serve(peer, row, now):
                entries.append(feed.FeedEntry(row.pos, row.kind, row.id, row.hops))
                if len(entries) >= limit:
                    break
        if len(rows) < limit:
            break
    else:
        more = True
    if not more:
        more = cursor < await state.store.last_pos()
    response = feed.ChangesResponse(epoch, tuple(entries), cursor, more)
    # Every position read above is on the disk before it is told (FeedStore.flush).
    await state.store.flush()
    return Reply(200, feed.encode_changes_response(response))


async def bodies(state: ServerState, peer: Peer, body: bytes) -> Reply:
    """The envelopes asked for, in the order asked, each one either sent or left out
    with its reason: ``gone`` (no longer here), ``not_yours`` (policy) or ``size_cut``
    (did not fit; ask again)."""
    _require_share(peer)
    req = feed.decode_bodies_request(body)
    now = state.clock.now()
    if req.positions and req.epoch != await state.store.epoch():
        raise Unauthorised("stale_epoch", "those positions are from another epoch; ask for changes")
    at = {row.pos: row for row in await state.store.rows_at(req.positions)}
    by_id = {row.id: row for row in await state.store.rows_by_id(req.ids)} if req.ids else {}
    asked: list[tuple[int | bytes, FeedRowLike | None]] = [
        *((pos, at.get(pos)) for pos in req.positions),
        *((id_, by_id.get(id_)) for id_ in req.ids),
    ]
    left: list[feed.LeftOut] = []
    served: list[tuple[int | bytes, bytes]] = []
    for ref, row in asked:
        if row is None or row.expires <= now:
            left.append(feed.LeftOut(ref, feed.LEFT_GONE))
        elif not may_serve(peer, row, now):
            left.append(feed.LeftOut(ref, feed.LEFT_NOT_YOURS))
        else:
            served.append((ref, row.id))
    found = await state.store.get_envelopes([id_ for _, id_ in served], now)
    items: list[tuple[int | bytes, bytes]] = []
    for ref, id_ in served:
        envelope = found.get(id_)
        if envelope is None:  # retracted or purged between the two reads
            left.append(feed.LeftOut(ref, feed.LEFT_GONE))
        else:
            items.append((ref, envelope))
    fitted = feed.fit_bodies_response(items, left, state.bodies_budget_bytes)
    return Reply(200, feed.encode_bodies_response(fitted))


async def ids(state: ServerState, peer: Peer, body: bytes) -> Reply:
    """Entitled ids in id order, for the id-diff after an epoch change.

    The requester pages on from the last id it was given, so a page is only cut short
    after at least one entry; a caller entitled to nothing in MAX_SCAN_ROWS
    consecutive ids gets ``more=False`` there (a bound on work, documented).
    """
    _require_share(peer)
    req = feed.decode_ids_request(body)
    now = state.clock.now()
    head = await state.store.last_pos()
    limit = min(req.limit, feed.MAX_IDS_PAGE)
    entries: list[feed.IdEntry] = []
    after, scanned, more = req.after, 0, False
    while scanned < MAX_SCAN_ROWS:
        rows = await state.store.ids_after(after, limit)
        for row in rows:
            scanned += 1
            after = row.id
            if may_serve(peer, row, now):
                entries.append(feed.IdEntry(row.kind, row.id, row.hops))
        if len(rows) < limit:
            break
        if entries:
            more = True
            break
    response = feed.IdsResponse(await state.store.epoch(), head, tuple(entries), more)
    await state.store.flush()  # the head, as above
    return Reply(200, feed.encode_ids_response(response))


async def poke(state: ServerState, peer: Peer, body: bytes) -> Reply:
    message = feed.decode_poke(body)
    await state.on_poke(peer, feed.poke_news(message))
    return Reply(204)


async def rotate(state: ServerState, peer: Peer, body: bytes) -> Reply:
    """A peer announces its own new key (a statement signed with its current key), at
    most once per ``min_rotation_interval_s``; or passes on another node's statement."""
    rotation = verify_rotation(body, state.clock.now())
    if rotation.body.old != peer.key:
        return await _relayed_rotation(state, peer, rotation, body)
    if await state.peers.get(rotation.body.new) is not None:
        raise Unauthorised("key_taken", "that key already belongs to another peer")
    now = state.clock.now()
    last = await state.peers.accept_rotation(
        rotation.body.old,
        rotation.body.new,
        rotated_at=rotation.body.created,
        now=now,
        min_interval_s=state.min_rotation_interval_s,
    )
    if last is not None:
        return refuse(
            "rotation_too_soon",
            "this node takes one key rotation at a time from a peer, a day apart;"
            " send it again later",
            retry_after_s=last + state.min_rotation_interval_s - now,
        )
    if state.on_rotate is not None:
        await state.on_rotate(rotation.body.old, rotation.body.new)
    log.info("peer %s rotated its key", peer.short)
    await _remember(state, peer, rotation, body, cap=None, pass_on=True)
    return Reply(204)


async def _relayed_rotation(
    state: ServerState, peer: Peer, rotation: VerifiedRotation, body: bytes
) -> Reply:
    """Another node's rotation, passed on by ``peer``: both keys signed it, so whoever
    brings it, it proves that node moved. It retires the old key here as at the
    rotating node's own peers; the trust list is not touched.

    It goes further only if this node holds alerts from the old key: anyone can mint
    keys and sign statements for them, and passing those on would spend this node's
    allowance at its peers; a real origin's statement travels the way its alerts did.
    """
    if bytes(state.key.verify_key) in (rotation.body.old, rotation.body.new):
        return Reply(204)  # our own rotation, come back: nothing to learn
    credible = await state.store.count_active(rotation.body.old, state.clock.now()) > 0
    cap = state.max_relayed_statements
    if not await _remember(state, peer, rotation, body, cap=cap, pass_on=credible):
        return refuse(
            "statements_full",
            "this node keeps no more rotation statements passed on by yours",
        )
    return Reply(204)


async def _remember(
    state: ServerState,
    peer: Peer,
    rotation: VerifiedRotation,
    body: bytes,
    *,
    cap: int | None,
    pass_on: bool,
) -> bool:
    """Keep a statement (once per old key, charged to ``peer``; a peer's own are not
    capped, as they are rate-limited) and, if ``pass_on``, pass it on when it is new
    here; False if ``peer`` has passed on all the statements it may."""
    new_here = await state.peers.record_statement(
        rotation.body.old,
        rotation.body.new,
        rotation.body.created,
        body,
        via=peer.entry_id,
        cap=cap,
    )
    if new_here is None:
        return False
    if new_here and pass_on and state.on_statement is not None:
        await state.on_statement(rotation, body, peer)
    return True


async def pins(state: ServerState, peer: Peer, body: bytes) -> Reply:
    """A peer states the TLS keys to accept from it (before and after a key change)."""
    statement = verify_pins(body, state.clock.now())
    if statement.body.node != peer.key:
        raise Unauthorised("not_own_key", "a node can only state its own pins")
    if not await state.peers.set_pins(peer.key, statement.body.pins, statement.body.created):
        return refuse("stale_statement", "a newer pin statement was applied already")
    log.info("peer %s stated %d TLS pin(s)", peer.short, len(statement.body.pins))
    return Reply(204)


async def move(state: ServerState, peer: Peer, body: bytes) -> Reply:
    """A peer states the federation URLs it is reached at now (it moved host). Only a
    peer on the trust list reaches this route (the request is signed by its key), and
    only for its own key: a node never accepts a move for a key it does not trust."""
    statement = verify_move(body, state.clock.now())
    if statement.body.node != peer.key:
        raise Unauthorised("not_own_key", "a node can only state its own addresses")
    if not await state.peers.set_urls(peer.key, statement.body.urls, statement.body.created):
        return refuse("stale_statement", "a newer move statement was applied already")
    log.info("peer %s moved to %d new URL(s)", peer.short, len(statement.body.urls))
    if state.on_moved is not None:
        await state.on_moved(peer)
    return Reply(204)


async def network_keys(state: ServerState, peer: Peer, body: bytes) -> Reply:
    """A peer hands over its network blinding keys; the answer hands over ours."""
    if state.key_exchange is None:
        return refuse("not_found", "there is no such route")
    return Reply(200, await state.key_exchange.answer(peer, body))


ROUTES: Mapping[str, Route] = {
    BASE_PATH + "/changes": changes,
    BASE_PATH + "/bodies": bodies,
    BASE_PATH + "/ids": ids,
    BASE_PATH + "/poke": poke,
    BASE_PATH + "/rotate": rotate,
    BASE_PATH + "/pins": pins,
    BASE_PATH + "/move": move,
    BASE_PATH + NETKEYS_PATH: network_keys,
}
