"""The federation server logic: the routes peers call, behind request authentication,
with no I/O of its own (``federation.https.federation_app`` puts it behind aiohttp,
``federation.memory`` calls it directly).

Rule: the node must be unlocked and size caps are checked before any work; then the
request signature, the destination, the clock window, the caller's standing on the
trust list, the caller's rate limit and the nonce window, in that order; only then
does a route run, and it serves only what ``peers.may_serve`` allows that caller.
Unknown, suspended and unshared callers get 401/403 and no data. Every refusal leaves
storage untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import nacl.signing

from protocol import feed
from protocol.errors import ProtocolError
from protocol.request import REQUEST_HEADER, NonceWindow, verify_request
from protocol.rotation import verify_rotation

from .clock import Clock
from .errors import Unauthorised
from .interfaces import FeedRowLike, FeedStore, PeerStore
from .netkeys import PATH as NETKEYS_PATH
from .netkeys import KeyExchange
from .peers import Peer, may_serve
from .quota import PeerRateLimiter
from .transport import BASE_PATH

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = feed.MAX_BODIES_REQUEST_BYTES
# How many log rows one changes request may scan while filtering for the caller.
MAX_SCAN_ROWS = 4 * feed.MAX_FEED_ENTRIES
MSGPACK = "application/msgpack"
TEXT = "text/plain"


@dataclass(frozen=True, slots=True)
class Reply:
    """What the server answers: an HTTP status, a body and its content type."""

    status: int
    body: bytes = b""
    content_type: str = MSGPACK
    headers: Mapping[str, str] = field(default_factory=dict)


def refuse(status: int, text: str) -> Reply:
    return Reply(status, text.encode(), TEXT)


@dataclass
class ServerState:
    """What the server works with; ``key`` and ``limiter`` may be replaced while it runs."""

    key: nacl.signing.SigningKey
    store: FeedStore
    peers: PeerStore
    clock: Clock
    on_poke: Callable[[Peer], Awaitable[None]]
    locked: Callable[[], bool]
    nonces: NonceWindow
    limiter: PeerRateLimiter = field(default_factory=PeerRateLimiter)
    on_rotate: Callable[[bytes, bytes], Awaitable[None]] | None = None
    key_exchange: KeyExchange | None = None


Route = Callable[[ServerState, Peer, bytes], Awaitable[Reply]]


class FederationServer:
    """Answers one authenticated federation request at a time, transport-neutral."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def refuse_early(self, content_length: int | None) -> Reply | None:
        """The refusals due before a request body is read (locked, declared size)."""
        if self.state.locked():
            return refuse(503, "locked")
        if content_length is not None and content_length > MAX_REQUEST_BYTES:
            return self.too_large()
        return None

    def too_large(self) -> Reply:
        return refuse(413, "request too large")

    async def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        """Authenticate the request, then run its route.

        Refusals are replies; only a failure of the store itself raises."""
        early = self.refuse_early(len(body))
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
            return refuse(401, exc.message)
        peer = await state.peers.get(auth.origin)
        if peer is None:
            return refuse(403, "unknown node")
        if peer.suspended:
            return refuse(403, "suspended")
        if not state.limiter.allow(peer.key, state.clock.monotonic()):
            return refuse(429, "too many requests; slow down")
        if state.nonces.seen(auth.origin, auth.nonce, auth.timestamp, now):
            return refuse(401, "replayed request")
        route = ROUTES.get(raw_path.partition("?")[0])
        if route is None:
            return refuse(404, "404: Not Found")
        if method != "POST":
            return Reply(405, b"405: Method Not Allowed", TEXT, {"Allow": "POST"})
        try:
            return await route(state, peer, body)
        except ProtocolError as exc:
            return refuse(exc.status_hint, exc.message)
        except Unauthorised as exc:
            return refuse(exc.status, exc.message)


def _require_share(peer: Peer) -> None:
    if not peer.share:
        raise Unauthorised("this node does not share with you", 403)


async def changes(state: ServerState, peer: Peer, body: bytes) -> Reply:
    _require_share(peer)
    req = feed.decode_changes_request(body)
    epoch = await state.store.epoch()
    if req.epoch is not None and req.epoch != epoch:
        empty = feed.ChangesResponse(epoch, (), 0, False)
        return Reply(200, feed.encode_changes_response(empty))
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
    return Reply(200, feed.encode_changes_response(response))


async def bodies(state: ServerState, peer: Peer, body: bytes) -> Reply:
    _require_share(peer)
    req = feed.decode_bodies_request(body)
    now = state.clock.now()
    rows: list[FeedRowLike] = []
    if req.positions:
        if req.epoch is not None and req.epoch != await state.store.epoch():
            raise Unauthorised("positions from another epoch", 409)
        rows.extend(await state.store.rows_at(req.positions))
    if req.ids:
        rows.extend(await state.store.rows_by_id(req.ids))
    wanted = [row.id for row in rows if may_serve(peer, row, now)]
    found = await state.store.get_envelopes(wanted, now)
    items = tuple(found[i] for i in wanted if i in found)
    # What does not fit under the response cap is simply asked for again next pull.
    return Reply(200, feed.encode_bodies_response(feed.fit_bodies_response(items)))


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
    return Reply(200, feed.encode_ids_response(response))


async def poke(state: ServerState, peer: Peer, body: bytes) -> Reply:
    feed.decode_poke(body)
    await state.on_poke(peer)
    return Reply(204)


async def rotate(state: ServerState, peer: Peer, body: bytes) -> Reply:
    """A peer announces its new key, signed with its old (current) key."""
    rotation = verify_rotation(body, state.clock.now())
    if rotation.body.old != peer.key:
        raise Unauthorised("a node can only rotate its own key", 403)
    if await state.peers.get(rotation.body.new) is not None:
        raise Unauthorised("that key already belongs to a peer", 409)
    await state.peers.replace_key(rotation.body.old, rotation.body.new)
    if state.on_rotate is not None:
        await state.on_rotate(rotation.body.old, rotation.body.new)
    log.info("peer %s rotated its key", peer.short)
    return Reply(204)


async def network_keys(state: ServerState, peer: Peer, body: bytes) -> Reply:
    """A peer hands over its network blinding keys; the answer hands over ours."""
    if state.key_exchange is None:
        return refuse(404, "404: Not Found")
    return Reply(200, await state.key_exchange.answer(peer, body))


ROUTES: Mapping[str, Route] = {
    BASE_PATH + "/changes": changes,
    BASE_PATH + "/bodies": bodies,
    BASE_PATH + "/ids": ids,
    BASE_PATH + "/poke": poke,
    BASE_PATH + "/rotate": rotate,
    BASE_PATH + NETKEYS_PATH: network_keys,
}
