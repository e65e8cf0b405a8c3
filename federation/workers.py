"""Sync workers: each peer gets a pull worker (pokes, a jittered timer, backoff) and a
poke worker, supervised, so a slow or dead peer never delays another (sync.py says
what one pull does).

Rule: every worker is supervised: an unexpected error is logged (a peer key prefix and
the error's type, never its text) and the worker restarts after a backoff; stopping
waits for the workers at most STOP_TIMEOUT_S. Every wait is on the injected Clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence

from protocol import feed

from .clock import Clock, within
from .errors import FederationError
from .ingest import PullResult
from .interfaces import PeerStore
from .news import News
from .transport import Transport
from .trust import Peer, may_pull

# The workers log as part of sync, as they did before this module was split off.
log = logging.getLogger("federation.sync")

SYNC_INTERVAL_S = 300.0
SYNC_JITTER = 0.2
MAX_BACKOFF_S = 3600.0
FIRST_BACKOFF_S = 5.0
POKE_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0
# A worker that crashed waits this long before its first restart, doubling to the max.
FIRST_RESTART_S = 1.0
MAX_RESTART_S = 300.0
# What pokes named to one pull worker since it last woke, at most (then it pulls).
MAX_NEWS_HELD = 64
# Per peer, the ids its latest pokes named (it holds them), remembered at most.
MAX_HEARD = 64


def _cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class PeerWorkers:
    """One pull worker and one poke worker per peer; a subclass says what a pull and a
    key exchange are (Syncer)."""

    def __init__(
        self,
        peers: PeerStore,
        transport: Transport,
        clock: Clock,
        interval_s: float,
        rng: random.Random | None,
    ) -> None:
        self._peers = peers
        self._transport = transport
        self._clock = clock
        self._interval_s = interval_s
        self._rng = rng or random.Random()
        self._wake: dict[bytes, asyncio.Event] = {}
        self._poke_out: dict[bytes, asyncio.Event] = {}
        self._locks: dict[bytes, asyncio.Lock] = {}
        self._tasks: dict[bytes, list[asyncio.Task[None]]] = {}
        # How many times a crashed worker was restarted (the status view, tests).
        self.restarts = 0
        self._keys_due: set[bytes] = set()
        # Per peer: what our next poke to it names (news.py), and what its pokes
        # named since its pull worker last woke.
        self._news_out: dict[bytes, News] = {}
        self._news_in: dict[bytes, News] = {}
        # Per peer, what its pokes named, by id with the hop count (news.py).
        self._heard: dict[bytes, dict[bytes, int]] = {}
        # Pulls a poke asked for that sent no request: this node held all it named.
        self.pulls_spared = 0
        # Pulls that failed (the peer unreachable or refusing, its answer unusable).
        self.pulls_failed = 0

    async def pull(self, peer: Peer, news: Sequence[feed.IdEntry] | None = None) -> PullResult:
        raise NotImplementedError

    async def exchange_keys(self, peer: Peer) -> str | None:
        raise NotImplementedError

    # --- workers ------------------------------------------------------------------

    async def start(self) -> None:
        for peer in await self._peers.list():
            self.ensure_worker(peer.key)

    def ensure_worker(self, key: bytes) -> None:
        if key in self._tasks:
            return
        self._wake[key] = asyncio.Event()
        self._poke_out[key] = asyncio.Event()
        self._locks[key] = asyncio.Lock()
        self._keys_due.add(key)
        loop = asyncio.get_running_loop()
        self._tasks[key] = [
            loop.create_task(
                self._supervise("pull", key, self._pull_worker), name=f"pull-{key.hex()[:8]}"
            ),
            loop.create_task(
                self._supervise("poke", key, self._poke_worker), name=f"poke-{key.hex()[:8]}"
            ),
        ]

    async def stop_worker(self, key: bytes) -> None:
        """Stop ``key``'s workers; returns within STOP_TIMEOUT_S whatever they do."""
        await self._stop_keys([key])

    async def stop(self) -> None:
        """Stop every worker at once; returns within STOP_TIMEOUT_S whatever they do."""
        await self._stop_keys(list(self._tasks))

    async def _stop_keys(self, keys: list[bytes]) -> None:
        tasks = [task for key in keys for task in self._tasks.pop(key, [])]
        for key in keys:
            self._wake.pop(key, None)
            self._poke_out.pop(key, None)
            self._locks.pop(key, None)
            self._news_out.pop(key, None)
            self._news_in.pop(key, None)
            self._heard.pop(key, None)
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        # A cancellation that lands exactly as an HTTP timeout fires can be turned
        # into a TimeoutError by the client; the workers re-check, and we never wait
        # on them for long.
        with contextlib.suppress(TimeoutError):
            await within(self._clock, STOP_TIMEOUT_S, asyncio.wait(tasks))
        stuck = sum(not task.done() for task in tasks)
        if stuck:
            log.warning(
                "%d sync worker(s) did not stop in %.0f s; left behind", stuck, STOP_TIMEOUT_S
            )

    async def _supervise(
        self, kind: str, key: bytes, worker: Callable[[bytes], Awaitable[None]]
    ) -> None:
        """Run ``worker`` until it returns; after a crash, log it and restart it with
        backoff. Never logs the error's text, which may hold member data."""
        crashes = 0
        while True:
            try:
                await worker(key)
                return
            except Exception as exc:
                crashes += 1
                delay = min(MAX_RESTART_S, FIRST_RESTART_S * 2.0 ** (crashes - 1))
                log.error(
                    "%s worker for peer %s crashed (%s); restart %d in %.0f s",
                    kind, key.hex()[:8], type(exc).__name__, crashes, delay,
                )  # fmt: skip
                self.restarts += 1
            await self._clock.sleep(delay)

    async def _wait(self, event: asyncio.Event, seconds: float) -> None:
        """Until ``event`` is set or ``seconds`` pass on the clock, whichever is first."""
        with contextlib.suppress(TimeoutError):
            await within(self._clock, seconds, event.wait())

    def _delay(self, failures: int) -> float:
        if failures:
            base: float = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2.0 ** (failures - 1))
        else:
            base = self._interval_s
        jitter: float = self._rng.uniform(-SYNC_JITTER, SYNC_JITTER)
        return base * (1 + jitter)

    async def _pull_worker(self, key: bytes) -> None:
        failures = 0
        wake = self._wake[key]
        wake.set()  # pull once at start, and at once after a restart
        first = True
        while not _cancelled():
            await self._wait(wake, self._delay(failures))
            poked = wake.is_set()
            wake.clear()
            # What the pokes since the last wake named; the timer's pull is a whole one.
            held = self._news_in.pop(key, None)
            news = held.named() if poked and held is not None else None
            peer = await self._peers.get(key)
            if peer is None:
                return
            if not may_pull(peer):
                continue
            # Keys owed to the peer go before the worker's first pull (a new peer, a
            # start) and after any other: that pull may be on an alert's way, and the
            # handover, a request of its own, waits for it.
            owed = key in self._keys_due
            if owed and first:
                await self._hand_over_keys(key, peer)
            result = await self.pull(peer, news)
            if owed and not first:
                await self._hand_over_keys(key, peer)
            first = False
            failures = failures + 1 if result.error else 0
            if news is not None and result.bodies == 0 and result.known == len(news):
                self.pulls_spared += 1
            if result.retry_after:
                # The peer said how long to wait (rate limited, locked): never sooner.
                await self._clock.sleep(float(result.retry_after))

    async def _hand_over_keys(self, key: bytes, peer: Peer) -> None:
        """Our network keys to ``peer``, and its own to us; owed again if it failed."""
        if key in self._keys_due and await self.exchange_keys(peer) is None:
            self._keys_due.discard(key)

    async def _poke_worker(self, key: bytes) -> None:
        wanted = self._poke_out[key]
        while not _cancelled():
            await wanted.wait()
            wanted.clear()
            news = self._news_out.pop(key, News(0)).named()
            peer = await self._peers.get(key)
            if peer is None:
                return
            if peer.suspended or not peer.share:
                continue
            poke = feed.Poke() if news is None else feed.Poke(ext=feed.news_ext(news))
            try:
                await within(
                    self._clock,
                    POKE_TIMEOUT_S,
                    self._transport.post(peer, "/poke", feed.encode_poke(poke), 64),
                )
            except (FederationError, TimeoutError) as exc:
                code = exc.code if isinstance(exc, FederationError) else "timeout"
                log.info("poke to peer %s failed (%s)", peer.short, code)
                # It may not have heard: the next poke cannot name all our news.
                self._note(self._news_out, key, None, feed.MAX_POKE_NEWS)

    def send_keys(self, exclude: bytes | None = None, only: bytes | None = None) -> None:
        """Owe every peer but ``exclude`` (or ``only`` that one) our network keys; their
        workers send them before their next pull."""
        for key in self._wake:
            if key != exclude and only in (None, key):
                self._keys_due.add(key)
                self.wake(key)

    @staticmethod
    def _note(
        book: dict[bytes, News], key: bytes, news: Sequence[feed.IdEntry] | None, limit: int
    ) -> None:
        book.setdefault(key, News(limit)).add(news)

    def wake(self, key: bytes, news: Sequence[feed.IdEntry] | None = None) -> None:
        """Pull from ``key`` as soon as its worker is free (a poke arrived, naming
        ``news`` as all that is new there, or not saying)."""
        event = self._wake.get(key)
        if event is not None:
            self._note(self._news_in, key, news, MAX_NEWS_HELD)
            if news:
                heard = self._heard.setdefault(key, {})
                for entry in news:
                    heard.pop(entry.id, None)
                    heard[entry.id] = entry.hops
                while len(heard) > MAX_HEARD:
                    del heard[next(iter(heard))]
            event.set()

    def poke(self, key: bytes, news: Sequence[feed.IdEntry] | None = None) -> None:
        """Tell one peer we have something for it (e.g. after resuming it): ``news``,
        all of it, or None when we cannot name it."""
        event = self._poke_out.get(key)
        if event is None:
            return
        if news is not None:
            # What the peer's own pokes named it holds, by a path no longer than ours
            # plus one (so ours offers it nothing shorter), it need not hear of; a
            # poke with nothing to name (``news`` empty: nothing new in its feed) is
            # not sent.
            heard = self._heard.get(key, {})
            news = [e for e in news if heard.get(e.id, e.hops + 2) > e.hops + 1]
            if not news:
                return
        self._note(self._news_out, key, news, feed.MAX_POKE_NEWS)
        event.set()

    def poke_all(
        self, exclude: bytes | None = None, news: Sequence[feed.IdEntry] | None = None
    ) -> None:
        """Tell every peer we share with that we have something new (``news``, as in
        ``poke``)."""
        for key in self._poke_out:
            if key != exclude:
                self.poke(key, news)
