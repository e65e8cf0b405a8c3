"""The outbox: routing new alerts to subscribers, and delivering with retries.

Rule: nothing on the path of publishing, syncing or a page waits for a service. An
alert stored here (published or pulled from a peer) only wakes the ``Notifier``; it
reads the store's log from its own cursor, queues one sealed message per immediate
subscriber (or counts the alert into her daily digest), and delivers in its own
supervised task: each apprise call in a small thread pool with a deadline, a failed
message retried with exponential backoff and jitter until ``MAX_ATTEMPTS``. Each
channel's state (ok / failing, its last error code, its queue) is kept for
``channel list`` and ``status``; never a URL, an address or a message's text, and
nothing of them is logged.

Other parts of the node send a message at once (an SMS reply) with ``send_direct``,
and a neutral notice to every subscriber (the node moved) with ``notify_members``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from federation.clock import Clock
from protocol.alert import read_stored_alert
from protocol.feed import IdEntry
from protocol.limits import DAY_S, HOUR_S

from ..errors import NotFound, UsageError
from ..store.alerts import AlertStore
from ..store.notify import NotifyStore, Queued, Subscription
from ..texts import BY_KEY, OrgTexts
from . import channels, messages
from .backoff import FIRST_RETRY_S as FIRST_RETRY_S  # re-exported: tests and docs name it here
from .backoff import MAX_RETRY_S as MAX_RETRY_S
from .backoff import backoff_s
from .errors import NotifyError

if TYPE_CHECKING:
    from ..app import Unlocked

log = logging.getLogger(__name__)

# Each apprise call gets this long; a service slower than this counts as failing.
SEND_TIMEOUT_S = 20.0
# Concurrent apprise calls (threads); a hung service holds at most one per channel.
SEND_THREADS = 4
# A message still failing after this many tries (about two days) is dropped.
MAX_ATTEMPTS = 12
ROUTE_BATCH = 200
DELIVER_BATCH = 100
# With nothing due, the worker still looks every this often (a wake missed, a clock jump).
IDLE_CHECK_S = 300.0
# Daily digests go at this hour (UTC): a coarse time, the same for every member.
DIGEST_HOUR_UTC = 17
# TLP labels whose content never goes to a third-party service, opted in or not.
NOTICE_ONLY_TLP = frozenset({"RED", "AMBER+STRICT"})

Deliver = Callable[[str, str, str, str], None]


class HasNotifier(Protocol):
    def unlocked(self) -> Unlocked: ...


async def send_direct(node: HasNotifier, channel: str, to: str, text: str) -> None:
    """Send ``text`` to ``to`` through ``channel`` now (not queued), under the same
    deadline and channel state as every message. For replies that make no sense
    later (an SMS check's answer).

    Raises NotifyError (codes in node/notify/errors.py), Locked."""
    await node.unlocked().notifier.send_now(channel, to, text)


async def notify_members(node: HasNotifier, text_key: str) -> int:
    """Queue the organisation's editable text ``text_key`` (node/texts.py; a neutral,
    one-line text such as "moved") to every subscription, each in her language, due
    at once (digest subscribers too: it is not an alert), and wake the notifier.
    Returns how many messages were queued (the outbox's cap may drop some).

    Raises UsageError (not a one-line editable text), Locked."""
    return await node.unlocked().notifier.queue_text(text_key)


@dataclass(slots=True)
class ChannelState:
    sent: int = 0
    failed: int = 0
    failing: bool = False
    last_error: str | None = None  # a NotifyError code
    last_error_at: int | None = None
    last_ok_at: int | None = None


def next_digest_at(now: int) -> int:
    """The next digest time after ``now``."""
    day = now - now % DAY_S
    at = day + DIGEST_HOUR_UTC * HOUR_S
    return at if at > now else at + DAY_S


def region_matches(wanted: tuple[str, ...], region: str) -> bool:
    """Every region if none is chosen; a country ("GB") takes its subdivisions."""
    return not wanted or any(region == r or region.startswith(r + "-") for r in wanted)


class Notifier:
    """Routes new alerts to subscribers and delivers the outbox."""

    def __init__(
        self,
        store: NotifyStore,
        alerts: AlertStore,
        clock: Clock,
        texts: Callable[[], OrgTexts],
        *,
        deliver: Deliver = channels.deliver,
        rng: random.Random | None = None,
        send_timeout_s: float = SEND_TIMEOUT_S,
    ) -> None:
        self._store = store
        self._alerts = alerts
        self._clock = clock
        self._texts = texts
        self._deliver = deliver
        self._rng = rng or random.Random()
        self._timeout_s = send_timeout_s
        self._pool = concurrent.futures.ThreadPoolExecutor(SEND_THREADS, "notify")
        # apprise (0.5 s and 27 MB with its plugins) is loaded before the first
        # message is sent, not at unlock: a node that sends none never loads it.
        self._apprise_loaded = deliver is not channels.deliver
        self._wake = asyncio.Event()
        self.states: dict[str, ChannelState] = {}
        self.dropped = 0

    def wake(self) -> None:
        """Something new was stored: route and deliver now."""
        self._wake.set()

    async def woken(self, _news: Sequence[IdEntry] = ()) -> None:
        """``wake`` as the async listener AlertService and Trust call."""
        self.wake()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- sending ------------------------------------------------------------------

    async def send_now(self, channel: str, to: str, text: str, title: str | None = None) -> None:
        """One message now. Raises NotifyError."""
        try:
            found = await self._store.channel(channel)
        except NotFound:
            raise NotifyError("no_channel", "there is no channel of that name") from None
        channels.join_recipient(found.url, to)  # a bad address fails here, not in a thread
        await self._send(found.name, found.url, to, title or self._title("en"), text)

    def _title(self, lang: str) -> str:
        return messages.title(self._texts(), lang)

    async def _send(self, name: str, url: str, to: str, title: str, body: str) -> None:
        state = self.states.setdefault(name, ChannelState())
        loop = asyncio.get_running_loop()
        try:
            if not self._apprise_loaded:
                # Here, on the event loop's thread (load_apprise says why), once.
                channels.load_apprise()
                self._apprise_loaded = True
            work = loop.run_in_executor(self._pool, self._deliver, url, to, title, body)
            try:
                await asyncio.wait_for(work, self._timeout_s)
            except TimeoutError:
                raise NotifyError("timeout", "the service did not answer in time") from None
            except RuntimeError:  # the pool was shut down: the node is stopping
                raise NotifyError("unavailable", "the node is stopping") from None
        except NotifyError as exc:
            state.failed += 1
            state.failing = True
            state.last_error = exc.code
            state.last_error_at = self._clock.now()
            log.warning("a notification channel failed (%s)", exc.code)
            raise
        state.sent += 1
        state.failing = False
        state.last_ok_at = self._clock.now()

    async def queue_text(self, text_key: str) -> int:
        """Queue ``text_key`` (an editable one-line text) to every subscription now."""
        known = BY_KEY.get(text_key)
        if known is None or not known.one_line:
            raise UsageError("a notice to members is one of the one-line editable texts")
        texts = self._texts()
        items: list[tuple[str, int | None, dict[str, Any]]] = [
            (
                sub.channel,
                sub.id,
                {
                    "to": sub.address,
                    "title": messages.title(texts, sub.lang),
                    "body": messages.org_text(texts, text_key, sub.lang),
                },
            )
            for sub in await self._store.all_subscriptions()
        ]
        queued = await self._store.enqueue(items, self._clock.now()) if items else 0
        self.dropped += len(items) - queued
        self.wake()
        return queued

    # --- routing ------------------------------------------------------------------

    async def route(self) -> int:
        """Queue messages for alerts stored since the cursor; how many were queued."""
        last = await self._alerts.last_pos()
        cursor = await self._store.cursor()
        if cursor is None or cursor > last:  # first start, or a restored log: from now
            await self._store.set_cursor(last)
            return 0
        queued = 0
        now = self._clock.now()
        while cursor < last:
            rows = await self._alerts.feed(cursor, ROUTE_BATCH)
            if not rows:
                break
            subs = await self._store.all_subscriptions()
            for row in rows:
                # A relisted entry (a shorter path moved it) was routed where it was.
                if row.kind == "a" and not row.relisted and subs:
                    queued += await self._route_alert(row.id, subs, now)
            cursor = rows[-1].pos
            await self._store.set_cursor(cursor)
        return queued

    async def _route_alert(self, alert_id: bytes, subs: list[Subscription], now: int) -> int:
        stored = await self._alerts.get_alert(alert_id, now)
        if stored is None:
            return 0
        body = read_stored_alert(stored.envelope)
        if body.supersedes is not None:  # a correction: she was told of the alert
            return 0
        texts = self._texts()
        immediate: list[tuple[str, int | None, dict[str, Any]]] = []
        for sub in subs:
            if body.danger < sub.min_danger or not region_matches(sub.regions, body.region):
                continue
            if sub.digest:
                await self._store.add_to_digest(sub, sub.channel, next_digest_at(now))
                continue
            if sub.content and body.tlp not in NOTICE_ONLY_TLP:
                text = messages.alert_text(body, texts, sub.lang)
            else:
                text = messages.notice(texts, sub.lang)
            payload = {"to": sub.address, "title": messages.title(texts, sub.lang), "body": text}
            immediate.append((sub.channel, sub.id, payload))
        queued = await self._store.enqueue(immediate, now) if immediate else 0
        self.dropped += len(immediate) - queued
        return queued

    # --- delivering ---------------------------------------------------------------

    async def deliver_due(self) -> int:
        """Try every message due now, one task per channel; how many were delivered."""
        now = self._clock.now()
        due = await self._store.due(now, DELIVER_BATCH)
        if not due:
            return 0
        urls = {c.name: c.url for c in await self._store.channels()}
        by_channel: dict[str, list[Queued]] = {}
        for item in due:
            by_channel.setdefault(item.channel, []).append(item)
        results = await asyncio.gather(
            *(self._deliver_channel(urls.get(name), items) for name, items in by_channel.items())
        )
        return sum(results)

    async def _deliver_channel(self, url: str | None, items: list[Queued]) -> int:
        delivered = 0
        for n, item in enumerate(items):
            if url is None:  # the channel went meanwhile (its rows go with it)
                return delivered
            payload = item.payload
            lang = payload.get("lang", "en")
            title = payload.get("title") or self._title(lang)
            if item.digest:
                body = messages.digest_text(
                    payload["count"], self._texts(), lang, payload.get("content", False)
                )
            else:
                body = payload["body"]
            try:
                await self._send(item.channel, url, payload["to"], title, body)
            except NotifyError:
                await self._failed(item, items[n + 1 :])
                return delivered
            await self._store.delivered(item.id)
            delivered += 1
        return delivered

    async def _failed(self, item: Queued, rest: list[Queued]) -> None:
        """Retry ``item`` later (or drop it after ``MAX_ATTEMPTS``); the rest of its
        channel's batch waits as long, without counting a try."""
        if item.attempts + 1 >= MAX_ATTEMPTS:
            await self._store.delivered(item.id)
            self.dropped += 1
            log.warning("a notification was dropped after %d tries", MAX_ATTEMPTS)
            return
        due = self._clock.now() + backoff_s(item.attempts + 1, self._rng)
        await self._store.retry_at(item.id, due)
        for other in rest:
            await self._store.defer(other.id, due)

    # --- the loop -----------------------------------------------------------------

    async def run(self) -> None:
        """Route and deliver until cancelled; sleeps until woken or something is due."""
        while True:
            self._wake.clear()
            await self.route()
            await self.deliver_due()
            next_due = await self._store.next_due()
            wait = IDLE_CHECK_S
            if next_due is not None:
                wait = max(0.0, min(wait, next_due - self._clock.now()))
            if wait > 0:
                await self._sleep_or_wake(wait)

    async def _sleep_or_wake(self, seconds: float) -> None:
        waker = asyncio.ensure_future(self._wake.wait())
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        try:
            await asyncio.wait({waker, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waker, sleeper):
                task.cancel()

    async def status(self) -> list[dict[str, Any]]:
        """Each channel's name, kind, state, last error code and queue length."""
        queues = await self._store.queue_lengths()
        out = []
        for channel in await self._store.channels():
            state = self.states.get(channel.name, ChannelState())
            out.append(
                {
                    "name": channel.name,
                    "kind": channel.kind,
                    "state": "failing" if state.failing else "ok",
                    "last_error": state.last_error,
                    "last_error_at": state.last_error_at,
                    "last_ok_at": state.last_ok_at,
                    "sent": state.sent,
                    "failed": state.failed,
                    "queue": queues.get(channel.name, 0),
                }
            )
        return out
