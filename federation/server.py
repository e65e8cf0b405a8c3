"""The federation server: the routes peers call, behind request authentication.

Rule: size caps are checked before any work; then the request signature, the
destination, the clock window, the caller's standing on the trust list and the
nonce window, in that order; only then does a handler run, and it serves only what
``peers.may_serve`` allows that caller. Unknown, suspended and unshared callers get
401/403 and no data. Every refusal leaves storage untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import nacl.signing
from aiohttp import web

from protocol import feed
from protocol.errors import ProtocolError
from protocol.request import REQUEST_HEADER, NonceWindow, verify_request
from protocol.rotation import verify_rotation

from .clock import Clock
from .errors import Unauthorised
from .interfaces import FeedRowLike, FeedStore, PeerStore
from .peers import Peer, may_serve
from .quota import PeerRateLimiter
from .transport import read_bounded

log = logging.getLogger(__name__)

BASE_PATH = "/fed/v1"
MAX_REQUEST_BYTES = feed.MAX_BODIES_REQUEST_BYTES
# How many log rows one changes request may scan while filtering for the caller.
MAX_SCAN_ROWS = 4 * feed.MAX_FEED_ENTRIES
PEER_KEY: web.RequestKey[Peer] = web.RequestKey("peer", Peer)
BODY_KEY: web.RequestKey[bytes] = web.RequestKey("body", bytes)


@dataclass
class ServerState:
    key: nacl.signing.SigningKey
    store: FeedStore
    peers: PeerStore
    clock: Clock
    on_poke: Callable[[Peer], Awaitable[None]]
    locked: Callable[[], bool]
    nonces: NonceWindow
    limiter: PeerRateLimiter = field(default_factory=PeerRateLimiter)
    on_rotate: Callable[[bytes, bytes], Awaitable[None]] | None = None
    monotonic: Callable[[], float] = time.monotonic


STATE_KEY: web.AppKey[ServerState] = web.AppKey("federation", ServerState)


def _refuse(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


@web.middleware
async def authenticate(request: web.Request, handler):  # type: ignore[no-untyped-def]
    state = request.app[STATE_KEY]
    if state.locked():
        return _refuse(503, "locked")
    if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
        return _refuse(413, "request too large")
    body = await read_bounded(request.content, MAX_REQUEST_BYTES)
    if body is None:
        return _refuse(413, "request too large")
    now = state.clock.now()
    try:
        auth = verify_request(
            request.headers.get(REQUEST_HEADER, ""),
            request.method,
            request.raw_path,
            body,
            bytes(state.key.verify_key),
            now,
        )
    except ProtocolError as exc:
        return _refuse(401, exc.message)
    peer = await state.peers.get(auth.origin)
    if peer is None:
        return _refuse(403, "unknown node")
    if peer.suspended:
        return _refuse(403, "suspended")
    if not state.limiter.allow(peer.key, state.monotonic()):
        return _refuse(429, "too many requests; slow down")
    if state.nonces.seen(auth.origin, auth.nonce, auth.timestamp, now):
        return _refuse(401, "replayed request")
    request[PEER_KEY] = peer
    request[BODY_KEY] = body
    try:
        return await handler(request)
    except ProtocolError as exc:
        return _refuse(exc.status_hint, exc.message)
    except Unauthorised as exc:
        return _refuse(exc.status, exc.message)


def _msgpack(data: bytes) -> web.Response:
    return web.Response(body=data, content_type="application/msgpack")


def _require_share(peer: Peer) -> None:
    if not peer.share:
        raise Unauthorised("this node does not share with you", 403)


async def changes(request: web.Request) -> web.Response:
    state, peer = request.app[STATE_KEY], request[PEER_KEY]
    _require_share(peer)
    req = feed.decode_changes_request(request[BODY_KEY])
    epoch = await state.store.epoch()
    if req.epoch is not None and req.epoch != epoch:
        return _msgpack(feed.encode_changes_response(feed.ChangesResponse(epoch, (), 0, False)))
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
    return _msgpack(feed.encode_changes_response(response))


async def bodies(request: web.Request) -> web.Response:
    state, peer = request.app[STATE_KEY], request[PEER_KEY]
    _require_share(peer)
    req = feed.decode_bodies_request(request[BODY_KEY])
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
    return _msgpack(feed.encode_bodies_response(feed.fit_bodies_response(items)))


async def ids(request: web.Request) -> web.Response:
    """Entitled ids in id order, for the id-diff after an epoch change.

    The requester pages on from the last id it was given, so a page is only cut short
    after at least one entry; a caller entitled to nothing in MAX_SCAN_ROWS
    consecutive ids gets ``more=False`` there (a bound on work, documented).
    """
    state, peer = request.app[STATE_KEY], request[PEER_KEY]
    _require_share(peer)
    req = feed.decode_ids_request(request[BODY_KEY])
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
    return _msgpack(feed.encode_ids_response(response))


async def poke(request: web.Request) -> web.Response:
    state, peer = request.app[STATE_KEY], request[PEER_KEY]
    feed.decode_poke(request[BODY_KEY])
    await state.on_poke(peer)
    return web.Response(status=204)


async def rotate(request: web.Request) -> web.Response:
    """A peer announces its new key, signed with its old (current) key."""
    state, peer = request.app[STATE_KEY], request[PEER_KEY]
    rotation = verify_rotation(request[BODY_KEY], state.clock.now())
    if rotation.body.old != peer.key:
        raise Unauthorised("a node can only rotate its own key", 403)
    if await state.peers.get(rotation.body.new) is not None:
        raise Unauthorised("that key already belongs to a peer", 409)
    await state.peers.replace_key(rotation.body.old, rotation.body.new)
    if state.on_rotate is not None:
        await state.on_rotate(rotation.body.old, rotation.body.new)
    log.info("peer %s rotated its key", peer.short)
    return web.Response(status=204)


def federation_app(state: ServerState) -> web.Application:
    app = web.Application(middlewares=[authenticate], client_max_size=MAX_REQUEST_BYTES)
    app[STATE_KEY] = state
    app.router.add_post(BASE_PATH + "/changes", changes)
    app.router.add_post(BASE_PATH + "/bodies", bodies)
    app.router.add_post(BASE_PATH + "/ids", ids)
    app.router.add_post(BASE_PATH + "/poke", poke)
    app.router.add_post(BASE_PATH + "/rotate", rotate)
    return app
