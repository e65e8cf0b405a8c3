"""Sync: pulling each peer's changes feed, and poking peers when we have news.

Rule: each peer has its own worker (its own pokes, timer, backoff and in-flight
request), so a slow or dead peer never delays another. A pull asks for ids first and
fetches only bodies this node lacks and no other pull is fetching (inflight.py), in
bounded batches; every body is verified
before it is stored; the cursor is saved only after the batch it covers is durable.
Ingest is idempotent on id, so a repeated or overlapping pull changes nothing.
Every worker is supervised: an unexpected error is logged (a peer key prefix and the
error's type, never its text) and the worker restarts after a backoff; stopping
waits for the workers at most STOP_TIMEOUT_S. Every wait is on the injected Clock.
A failed pull is recorded on the peer as (code, message, time), the code from
``errors.CODES``; every pull records how many items it refused and the last one's
code, so an admin sees a peer whose items are all refused.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import nacl.signing

from protocol import feed
from protocol.errors import ProtocolError
from protocol.netkeys import MAX_STATEMENT_BYTES
from protocol.signing import parse_envelope

from .clock import Clock, within
from .errors import FederationError, PeerRefused, PeerUnreachable
from .hops import take_shorter_paths
from .inflight import InFlight
from .ingest import Admission, OriginCache, PullResult
from .interfaces import FeedStore, PeerStore
from .netkeys import PATH as NETKEYS_PATH
from .netkeys import KeyExchange
from .quota import QuotaLedger, Quotas
from .transport import REQUEST_TIMEOUT_S, Transport
from .trust import Peer, may_pull
from .verifier import Checked, Verifier
from .workers import SYNC_INTERVAL_S, PeerWorkers
from .writer import BatchWriter, pull_writer

log = logging.getLogger(__name__)

# A batch's bodies, and their verification (started as they arrived).
Fetched = tuple[feed.BodiesResponse, "asyncio.Future[list[Checked]]"]

MAX_PAGES_PER_PULL = 1000
# How many times one pull waits for bodies other pulls are fetching before it asks
# for them itself anyway (each wait is bounded by inflight.IN_FLIGHT_WAIT_S).
MAX_IN_FLIGHT_ROUNDS = 3


class Syncer(PeerWorkers):
    """Owns one worker per peer; pulls on pokes, on a jittered timer and on demand."""

    def __init__(
        self,
        key: nacl.signing.SigningKey,
        store: FeedStore,
        peers: PeerStore,
        transport: Transport,
        clock: Clock,
        on_stored: Callable[[Peer, tuple[feed.IdEntry, ...] | None], Awaitable[None]],
        *,
        interval_s: float = SYNC_INTERVAL_S,
        rng: random.Random | None = None,
        quotas: Quotas | None = None,
        verifier: Verifier | None = None,
    ) -> None:
        # What peers may make this node store (tests lower them); the ledger counts
        # what is used, shared by every pull.
        super().__init__(peers, transport, clock, interval_s, rng)
        self.quotas = quotas or Quotas()
        self.ledger = QuotaLedger(clock.monotonic)
        # Checks pulled items (a process pool the owner closes, or inline).
        self.verifier = verifier or Verifier(workers=0)
        self._key = key
        self._own = bytes(key.verify_key)
        self._store = store
        self._on_stored = on_stored
        # Called with (peer key, item id) for every body received: benchmarks and
        # tests count bodies per edge with it.
        self.observer: Callable[[bytes, bytes], None] | None = None
        # Hands our network blinding keys to each peer owed them, before its next pull.
        self.key_exchange: KeyExchange | None = None
        # Called with how many new alerts a pull stored (the node's monthly totals),
        # once a page and when the pull ends.
        self.on_received_alerts: Callable[[int, int], Awaitable[None]] | None = None
        # Whether to take area warnings now (the node's area_warnings setting).
        self.accepts_warnings: Callable[[], bool] = lambda: True
        # Bodies some pull is fetching now: two peers never both send one at once.
        self.in_flight = InFlight(clock)

    async def _post(self, peer: Peer, path: str, body: bytes, max_response_bytes: int) -> bytes:
        """``transport.post`` with a timeout on the injected clock, whatever the transport."""
        try:
            return await within(
                self._clock,
                REQUEST_TIMEOUT_S,
                self._transport.post(peer, path, body, max_response_bytes),
            )
        except TimeoutError:
            raise PeerUnreachable("the peer did not answer in time", code="timeout") from None

    async def exchange_keys(self, peer: Peer) -> str | None:
        """Hand our network keys to ``peer`` and take its own; None, or the error."""
        exchange = self.key_exchange
        if exchange is None:
            return None

        async def post(statement: bytes) -> bytes:
            return await self._post(peer, NETKEYS_PATH, statement, MAX_STATEMENT_BYTES)

        try:
            await exchange.call(post, peer)
        except (FederationError, ProtocolError) as exc:
            log.info("key handover to peer %s failed: %s", peer.short, type(exc).__name__)
            return str(exc)
        return None

    async def sync_all(self) -> list[PullResult]:
        """Pull from every peer now, concurrently; one failure does not stop the others."""
        peers = [p for p in await self._peers.list() if may_pull(p)]
        return list(await asyncio.gather(*(self.pull(p) for p in peers)))

    # --- one pull -----------------------------------------------------------------

    async def pull(self, peer: Peer, news: Sequence[feed.IdEntry] | None = None) -> PullResult:
        """Pull everything new from ``peer``, or only the ``news`` its poke named
        (news.py): those it lacks, by id, without reading its feed or moving the
        cursor. Errors are recorded, not raised."""
        lock = self._locks.setdefault(peer.key, asyncio.Lock())
        async with lock:
            result = PullResult(peer.short)
            fresh = await self._peers.get(peer.key)
            if fresh is None:
                result.error = "no longer a peer"
                return result
            now = self._clock.now()
            cache = OriginCache()
            # The epoch a pull of what a poke named is made under; None: a whole pull.
            named = None if news is None else fresh.epoch
            try:
                # One writer for the whole pull: a page's bodies are fetched and checked
                # while the page before is still being stored.
                writer = pull_writer(self._store, self.ledger, self._clock, result, cache)
                async with writer:
                    if named is None:
                        await self._pull(fresh, result, cache, writer)
                    else:
                        await self._pull_named(fresh, named, news or (), result, cache, writer)
            except FederationError as exc:
                await self._failed(peer, result, exc.code, exc.message, now)
                if isinstance(exc, PeerRefused):
                    result.retry_after = exc.retry_after
            except ProtocolError as exc:
                # Our decoding of the peer's answer failed: the answer is at fault.
                message = f"the peer's answer cannot be used: {exc.message}"
                await self._failed(peer, result, "bad_response", message, now)
            # Tell the other peers first: the counts below are for an admin to read,
            # not on a propagation's path.
            if result.stored or result.lowered:
                await self._on_stored(fresh, () if cache.news.empty else cache.news.named())
            if named is not None and result.stored and result.error is None:
                await self._saved_named(fresh, named, result)
            # What a failed pull stored is counted too.
            await self._count(cache)
            await self._peers.record_refusals(
                peer.key, result.refused, result.refusal_code, self._clock.now()
            )
            return result

    async def _failed(
        self, peer: Peer, result: PullResult, code: str, message: str, now: int
    ) -> None:
        result.error, result.error_code = message, code
        self.pulls_failed += 1
        await self._peers.record_error(peer.key, code, message, now)
        log.info("sync with peer %s failed (%s)", peer.short, code)

    async def _pull_named(
        self,
        peer: Peer,
        epoch: bytes,
        news: Sequence[feed.IdEntry],
        result: PullResult,
        cache: OriginCache,
        writer: BatchWriter,
    ) -> None:
        """Fetch by id what ``news`` names and this node lacks (taking shorter paths to
        what it holds); the cursor stays where it is, so the next whole pull lists
        these entries again and finds them held. Its progress is saved after the
        other peers are poked (``_saved_named``)."""
        await self._fetch_missing(peer, news, None, result, cache, writer)

    async def _saved_named(self, peer: Peer, epoch: bytes, result: PullResult) -> None:
        """A pull of what a poke named stored something: its progress, after the pokes
        to the other peers. Neither it nor the pull's batches wait for the disk: the
        cursor did not move, so a power cut that lost them loses nothing the next
        whole pull does not fetch again; and before this node serves any feed
        position to a peer it takes them to the disk (``FeedStore.flush``)."""
        await self._peers.save_progress(
            peer.key,
            epoch=epoch,
            cursor=peer.cursor,
            received=result.stored,
            lag=None,
            now=self._clock.now(),
            synced=False,
        )

    async def _changes(self, peer: Peer, cursor: int, epoch: bytes | None) -> feed.ChangesResponse:
        request = feed.ChangesRequest(cursor, feed.MAX_FEED_ENTRIES, epoch)
        raw = await self._post(
            peer, "/changes", feed.encode_changes_request(request), feed.MAX_CHANGES_RESPONSE_BYTES
        )
        return feed.decode_changes_response(raw)

    async def _pull(
        self, peer: Peer, result: PullResult, cache: OriginCache, writer: BatchWriter
    ) -> None:
        """Page through ``peer``'s feed from our cursor. While one page's bodies are
        fetched, the next page is already asked for (one page ahead at most), and the
        pages before may still be being stored by ``writer``; each page's cursor is
        saved by ``writer`` once that page's batches are written, so the cursor moves
        only past stored batches."""
        cursor, epoch = peer.cursor, peer.epoch
        ahead: asyncio.Task[feed.ChangesResponse] | None = None
        try:
            for _ in range(MAX_PAGES_PER_PULL):
                if ahead is None:
                    response = await self._changes(peer, cursor, epoch)
                else:
                    response, ahead = await ahead, None
                result.pages += 1
                if response.reset or (epoch is not None and response.epoch != epoch):
                    cursor = await self._resync_by_ids(peer, result, cache, writer)
                    epoch = response.epoch
                    await writer.after(
                        partial(self._save, peer, epoch, cursor, result, response.next, cache)
                    )
                    continue
                epoch = response.epoch
                following = max(cursor, response.next)
                if response.more:
                    ahead = asyncio.ensure_future(self._changes(peer, following, epoch))
                await self._fetch_missing(peer, response.entries, epoch, result, cache, writer)
                cursor = following
                await writer.after(partial(self._save, peer, epoch, cursor, result, cursor, cache))
                if not response.more:
                    return
        finally:
            _drop(ahead)

    async def _fetch_missing(
        self,
        peer: Peer,
        entries: Sequence[feed.FeedEntry | feed.IdEntry],
        epoch: bytes | None,
        result: PullResult,
        cache: OriginCache,
        writer: BatchWriter,
    ) -> None:
        """Fetch the bodies of ``entries`` this node lacks, in bounded batches, and
        queue them on ``writer``: by log position within ``epoch``, or by id when there
        is none (an id-diff). A body another pull (from another peer) is already
        fetching is not asked for at the same time: this pull waits for that one, then
        asks only for what it did not store. This pull's own claims are released once
        ``writer`` has stored (or given up) what was queued under them."""
        known = await self._store.known_ids([e.id for e in entries])
        missing = [e for e in entries if e.id not in known]
        result.known += len(entries) - len(missing)
        await self._shorter([e for e in entries if e.id in known], peer, result, cache)
        for _ in range(MAX_IN_FLIGHT_ROUNDS):
            mine, theirs = self.in_flight.claim(missing)
            try:
                await self._fetch_entries(peer, mine, epoch, result, cache, writer)
            finally:
                if mine:
                    writer.after_even_on_failure(partial(self.in_flight.release, mine))
            if not theirs:
                return
            # Another pull is fetching these: wait for it, then claim and fetch here
            # only what it did not store (its peer's answer was refused by our policy,
            # cut or failed), so two waiters woken together do not both fetch it.
            await self.in_flight.wait(theirs)
            known = await self._store.known_ids([e.id for e in theirs])
            missing = [e for e in theirs if e.id not in known]
            result.known += len(theirs) - len(missing)
            await self._shorter([e for e in theirs if e.id in known], peer, result, cache)
        # Still claimed by others after every round (each wait bounded): ask anyway.
        await self._fetch_entries(peer, missing, epoch, result, cache, writer)

    async def _shorter(
        self,
        held: Sequence[feed.FeedEntry | feed.IdEntry],
        peer: Peer,
        result: PullResult,
        cache: OriginCache,
    ) -> None:
        """Take the shorter paths ``peer`` offers to alerts held here (hops.py)."""
        if held:
            now = self._clock.now()
            lowered = await take_shorter_paths(self._store, peer, self._own, held, now)
            result.lowered += len(lowered)
            cache.news.add(lowered)

    async def _fetch_entries(
        self,
        peer: Peer,
        missing: Sequence[feed.FeedEntry | feed.IdEntry],
        epoch: bytes | None,
        result: PullResult,
        cache: OriginCache,
        writer: BatchWriter,
    ) -> None:
        if not missing:
            return
        self.verifier.expect(len(missing))
        batches = []
        for start in range(0, len(missing), feed.MAX_BATCH_IDS):
            batch = missing[start : start + feed.MAX_BATCH_IDS]
            if epoch is not None:
                positions = tuple(e.pos for e in batch if isinstance(e, feed.FeedEntry))
                request = feed.BodiesRequest(positions=positions, epoch=epoch)
            else:
                request = feed.BodiesRequest(ids=tuple(e.id for e in batch))
            batches.append((request, {e.id: e.hops for e in batch}))
        # The next batch's bodies are asked for while this one is verified and
        # admitted (one request ahead at most), and verified as soon as they arrive, so
        # the verification pool has the next batch queued while this one is admitted
        # (it never waits on the event loop); each batch is written while the next is
        # checked.
        ahead: asyncio.Task[Fetched] | None = None
        checking: asyncio.Future[list[Checked]] | None = None
        try:
            for i, (request, hops) in enumerate(batches):
                if ahead is None:
                    response, checking = await self._bodies(peer, request), None
                else:
                    (response, checking), ahead = await ahead, None
                if i + 1 < len(batches):
                    ahead = asyncio.ensure_future(self._fetch_checked(peer, batches[i + 1][0]))
                await self._take(peer, request, response, hops, result, cache, writer, checking)
                checking = None
        finally:
            _drop(ahead, cancel_result=True)
            _drop(checking)

    async def _fetch_checked(self, peer: Peer, request: feed.BodiesRequest) -> Fetched:
        """A batch's bodies, and their verification started at once (a task)."""
        response = await self._bodies(peer, request)
        check = self.verifier.check(response.items, self._clock.now())
        return response, asyncio.ensure_future(check)

    async def _resync_by_ids(
        self, peer: Peer, result: PullResult, cache: OriginCache, writer: BatchWriter
    ) -> int:
        """The peer's log was reset: list its ids, fetch only the unknown ones."""
        after: bytes | None = None
        head: int | None = None
        for _ in range(MAX_PAGES_PER_PULL):
            raw = await self._post(
                peer,
                "/ids",
                feed.encode_ids_request(feed.IdsRequest(after, feed.MAX_IDS_PAGE)),
                feed.MAX_IDS_RESPONSE_BYTES,
            )
            page = feed.decode_ids_response(raw)
            result.pages += 1
            if head is None:
                head = page.head
            entries = list(page.entries)
            await self._fetch_missing(peer, entries, None, result, cache, writer)
            if not page.more or not entries:
                break
            after = entries[-1].id
        return head or 0

    async def _bodies(self, peer: Peer, request: feed.BodiesRequest) -> feed.BodiesResponse:
        raw = await self._post(
            peer, "/bodies", feed.encode_bodies_request(request), feed.MAX_BODIES_RESPONSE_BYTES
        )
        return feed.decode_bodies_response(raw)

    async def _take(
        self,
        peer: Peer,
        request: feed.BodiesRequest,
        response: feed.BodiesResponse,
        hops: dict[bytes, int],
        result: PullResult,
        cache: OriginCache,
        writer: BatchWriter,
        checking: asyncio.Future[list[Checked]] | None = None,
    ) -> None:
        """Store one batch's answer; ask again at once for what was cut for size, as
        long as each answer brings something; count what is gone or not ours, never
        re-ask it. ``checking``: the verification of ``response``'s items, if started."""
        while True:
            items = response.items
            result.bodies += len(items)
            if self.observer is not None:
                for item in items:
                    self.observer(peer.key, parse_envelope(item).id)
            checked = None if checking is None else await checking
            checking = None
            await self._ingest(peer, items, hops, result, cache, writer, checked)
            cut: list[int | bytes] = []
            for left in response.left:
                if left.reason == feed.LEFT_SIZE_CUT:
                    cut.append(left.ref)
                elif left.reason == feed.LEFT_GONE:
                    result.gone += 1
                else:
                    result.not_yours += 1
            result.size_cut += len(cut)
            if not cut or not items:
                return
            asked = set(request.positions) | set(request.ids)
            positions = tuple(sorted(r for r in cut if isinstance(r, int) and r in asked))
            ids = tuple(r for r in cut if isinstance(r, bytes) and r in asked)
            if not positions and not ids:
                return
            request = feed.BodiesRequest(positions, ids, request.epoch)
            response = await self._bodies(peer, request)

    async def _ingest(
        self,
        peer: Peer,
        items: Sequence[bytes],
        hops: dict[bytes, int],
        result: PullResult,
        cache: OriginCache,
        writer: BatchWriter,
        checked: Sequence[Checked] | None = None,
    ) -> None:
        """Verify every item (unless ``checked``: the verifier's verdicts on ``items``)
        and apply the trust policy, then queue the accepted ones on ``writer``, which
        stores them (with any other batches queued meanwhile, in one transaction) while
        the next batch is fetched and verified."""
        now = self._clock.now()
        gate = Admission(
            self._store,
            self._peers,
            self._own,
            self.quotas,
            self.ledger,
            self.verifier,
            self.accepts_warnings,
        )
        accepted, counted = await gate.admit(peer, items, hops, result, cache, now, checked)
        if not accepted:
            return
        try:
            await writer.submit(accepted, counted)
        except BaseException:
            # Not queued (an earlier write failed, or we were cancelled while the queue
            # was full): nothing of this batch is written, and nothing stays counted.
            self.ledger.settle(counted)
            raise

    async def _count(self, cache: OriginCache) -> None:
        """Add the new alerts stored since the last count to the node's totals."""
        count, cache.uncounted = cache.uncounted, 0
        if count and self.on_received_alerts is not None:
            await self.on_received_alerts(count, self._clock.now())

    async def _save(
        self,
        peer: Peer,
        epoch: bytes,
        cursor: int,
        result: PullResult,
        head: int,
        cache: OriginCache,
    ) -> None:
        """Count what was stored, then save the cursor (a synced write): queued on the
        pull's writer after the page's batches, so it runs once they are stored."""
        await self._count(cache)
        await self._peers.save_progress(
            peer.key,
            epoch=epoch,
            cursor=cursor,
            received=result.stored,
            lag=max(0, head - cursor),
            now=self._clock.now(),
        )


def _drop(task: asyncio.Future[Any] | None, *, cancel_result: bool = False) -> None:
    """Cancel a request (or a verification) asked ahead that is no longer wanted; its
    failure, if it already failed, is taken here so nothing reports it as never
    retrieved. ``cancel_result``: the task's result, if it has one, holds a
    verification started ahead (``Fetched``), cancelled too."""
    if task is None:
        return
    if cancel_result and task.done() and not task.cancelled() and task.exception() is None:
        _drop(task.result()[1])
    task.cancel()
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
