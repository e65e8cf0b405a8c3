"""Partner platforms (issue 15, point 3): what the partner API does, apart from HTTP.

Rule: a partner learns, per indicator, only counts, organisations, the highest danger,
categories and the organisation's recommendation; never a description, an alert id,
a blinded value or member data. Only alerts this node may show a partner count: its
own and those whose origin allowed partner checks, and never a TLP:AMBER+STRICT or
RED one (``federation.trust.may_answer_partner_check``). Every use of a token is
audited by partner id, endpoint and counts, never with an indicator or report text.
There is no route from here to any police or authority.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp

from federation.clock import Clock
from federation.trust import may_answer_partner_check
from protocol.errors import ProtocolError
from protocol.limits import DAY_S
from protocol.normalise import normalise

from .errors import NotFound, UsageError
from .keys.slowhash import MAX_CONCURRENT_SLOW_HASHES
from .notify.backoff import backoff_s
from .service import AlertService
from .store import Store
from .store.partners import Partner, PartnerReport

if TYPE_CHECKING:
    from .app import Unlocked

log = logging.getLogger(__name__)


class HasUnlocked(Protocol):
    def unlocked(self) -> Unlocked: ...


MAX_CHECK_INDICATORS = 100
MAX_REFERRALS = 100
REFERRAL_TTL_S = 60 * DAY_S
MAX_REPORT_DESCRIPTION_CHARS = 4000
MAX_NOTE_CHARS = 2000
PARTNER_KINDS: tuple[str, ...] = ("phone", "email", "handle")
ACTIONS: tuple[str, ...] = ("remove", "warn", "monitor", "none")
WEBHOOK_TIMEOUT_S = 10.0
# A webhook call still failing after this many tries (about two days) is dropped.
MAX_WEBHOOK_ATTEMPTS = 12
WEBHOOK_BATCH = 50
# The retry job looks for due webhook calls this often.
WEBHOOK_POLL_S = 30.0
SIGNATURE_HEADER = "X-Alertnode-Signature"
TIMESTAMP_HEADER = "X-Alertnode-Timestamp"

# POST url, body bytes, headers -> HTTP status. Raises OSError or TimeoutError.
PostJson = Callable[[str, bytes, Mapping[str, str]], Awaitable[int]]


def sign_payload(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header value of a webhook call: ``v1=`` and the hex of
    HMAC-SHA256(secret, "<timestamp>." || body)."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def report_json(report: PartnerReport) -> dict[str, Any]:
    """What the partner sees of its report: never the caseworkers' notes to themselves."""
    status = report.status
    rec = report.content.get("recommendation")
    return {
        "id": report.ref,
        "status": status,
        "recommendation": {"action": rec["action"], "note": rec["note"]} if rec else None,
    }


def _may_show(alert: Mapping[str, Any], own: set[bytes]) -> bool:
    """Whether one alert of a check may count in a partner's answer (any of this
    node's keys, retired ones included, is its own)."""
    origin = bytes.fromhex(alert["origin"])
    own_key = origin if origin in own else b""
    return may_answer_partner_check(origin, own_key, alert["tlp"], alert["partner_checks"])


class PartnerService:
    def __init__(
        self,
        store: Store,
        alerts: AlertService,
        clock: Clock,
        own_keys: Callable[[], Sequence[bytes]],
        phone_region: Callable[[], str],
        post_json: PostJson | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._alerts = alerts
        self._clock = clock
        self._own_keys = own_keys
        self._region = phone_region
        self._post = post_json
        self._rng = rng or random.Random()

    async def audit(self, partner: Partner, action: str, **counts: int) -> None:
        entry = {"actor": f"partner:{partner.id}", "role": "partner", "action": action, **counts}
        await self._store.audit.append(self._clock.now(), entry)

    def _key(self, kind: str, value: str) -> str | None:
        try:
            return f"{kind}:{normalise(kind, value, self._region())}"
        except ProtocolError:
            return None

    async def _recommendations(self) -> dict[str, dict[str, str]]:
        """The latest answered recommendation per normalised account."""
        out: dict[str, dict[str, str]] = {}
        for report in reversed(await self._store.partners.reports()):
            rec = report.content.get("recommendation")
            key = report.content.get("account_key")
            if rec and key and report.content.get("kind", "account") == "account":
                out[key] = {"action": rec["action"], "note": rec["note"]}
        return out

    async def check(
        self, partner: Partner, items: Sequence[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        """Answer a bulk check. Raises UsageError for a bad indicator (naming its
        position, never its value)."""
        if len(items) > MAX_CHECK_INDICATORS:
            raise UsageError(f"at most {MAX_CHECK_INDICATORS} indicators in one check")
        own = set(self._own_keys())
        recommendations = await self._recommendations()
        keys: list[str] = []
        for position, (kind, value) in enumerate(items):
            if kind not in PARTNER_KINDS:
                raise UsageError(f"indicator {position}: kind is one of {', '.join(PARTNER_KINDS)}")
            key = self._key(kind, value)
            if key is None:  # refused before any slow hash is spent
                raise UsageError(f"indicator {position}: not a valid {kind}")
            keys.append(key)
        # As many at once as the slow-hash pool runs, and no more: the pool's queue is
        # first come, first served, so a member's check waits behind at most this many
        # of a partner's hashes, never behind the whole bulk check.
        room = asyncio.Semaphore(MAX_CONCURRENT_SLOW_HASHES)

        async def one(kind: str, value: str) -> dict[str, Any]:
            async with room:
                return await self._alerts.check(kind, value)

        answers = await asyncio.gather(
            *(one(kind, value) for kind, value in items), return_exceptions=True
        )
        results = []
        for position, ((kind, value), found) in enumerate(zip(items, answers, strict=True)):
            if isinstance(found, UsageError):
                raise UsageError(f"indicator {position}: not a valid {kind}")
            if isinstance(found, BaseException):
                raise found
            shown = [a for a in found["alerts"] if _may_show(a, own)]
            organisations = {a["organisation"] for a in shown if a["origin_known"]}
            results.append(
                {
                    "kind": kind,
                    "value": value,
                    "matches": len(shown),
                    "organisations": len(organisations),
                    "max_danger": max((a["danger"] for a in shown), default=0),
                    "categories": sorted({c for a in shown for c in a["categories"]}),
                    "recommendation": recommendations.get(keys[position]),
                }
            )
        await self.audit(
            partner,
            "partner check",
            indicators=len(items),
            matched=sum(1 for r in results if r["matches"]),
        )
        return results

    async def report(self, partner: Partner, account: tuple[str, str], description: str) -> str:
        """Keep a report about a problem account for the caseworkers; returns its id."""
        kind, value = account
        key = self._key(kind, value)
        if key is None:
            raise UsageError(f"account: not a valid {kind}")
        content = {
            "kind": "account",
            "account": {kind: value},
            "account_key": key,
            "description": description[:MAX_REPORT_DESCRIPTION_CHARS],
            "consent": True,
        }
        ref = await self._store.partners.add_report(partner.id, content, self._clock.now())
        await self.audit(partner, "partner report")
        return ref

    async def complaint(self, partner_id: int, text: str) -> int:
        """Pass a member's complaint about a platform to its partner entry, without her
        identity: the text the caseworker wrote, nothing of hers. Returns its row id."""
        content = {"kind": "complaint", "account": {}, "description": text[:MAX_NOTE_CHARS]}
        ref = await self._store.partners.add_report(partner_id, content, self._clock.now())
        report = await self._store.partners.report_by_ref(partner_id, ref)
        await self._store.partners.update_report(report.id, status="answered")
        return report.id

    async def answer(self, report_id: int, action: str, note: str) -> bool:
        """Record the organisation's recommendation and post it to the partner's webhook
        if it has one. Returns whether a webhook took it (False: none, or it failed;
        the partner can always poll). Raises UsageError, NotFound."""
        if action not in ACTIONS:
            raise UsageError(f"a recommendation is one of {', '.join(ACTIONS)}")
        rec = {"action": action, "note": note.strip()[:MAX_NOTE_CHARS]}
        report = await self._store.partners.update_report(
            report_id, status="answered", recommendation=rec
        )
        partner = await self._store.partners.get(report.partner_id)
        if partner.webhook is None or partner.revoked or self._post is None:
            return False
        row = await self._store.webhooks.add(partner.id, report_json(report), self._clock.now())
        if row is None:
            log.warning("the partner webhook queue is full; the partner can poll")
            return False
        return await self.deliver_webhooks(only=row) == 1

    async def deliver_webhooks(self, only: int | None = None) -> int:
        """Post the queued recommendations that are due (or the one call ``only``),
        each signed at the time it is sent; a failed call is tried again after a
        wait doubling from 30 s to 6 hours (the outbox's backoff), and dropped after
        ``MAX_WEBHOOK_ATTEMPTS`` tries (the answer is still there to poll). Returns
        how many partners took theirs."""
        if self._post is None:
            return 0
        now = self._clock.now()
        took = 0
        for call in await self._store.webhooks.due(now, WEBHOOK_BATCH, only):
            try:
                partner = await self._store.partners.get(call.partner_id)
            except NotFound:
                partner = None
            if partner is None or partner.webhook is None or partner.revoked:
                await self._store.webhooks.done(call.id)
                continue
            if await self._post_signed(partner, call.body):
                await self._store.webhooks.done(call.id)
                took += 1
            elif call.attempts + 1 >= MAX_WEBHOOK_ATTEMPTS:
                await self._store.webhooks.done(call.id)
                log.warning("a partner webhook call was dropped after %d tries", call.attempts + 1)
            else:
                wait = backoff_s(call.attempts + 1, self._rng)
                await self._store.webhooks.retry_at(call.id, now + wait)
        return took

    async def _post_signed(self, partner: Partner, answer: dict[str, Any]) -> bool:
        assert self._post is not None and partner.webhook is not None
        body = json.dumps(answer, separators=(",", ":")).encode()
        now = self._clock.now()
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(now),
            SIGNATURE_HEADER: sign_payload(partner.webhook["secret"].encode(), now, body),
        }
        try:
            status = await self._post(partner.webhook["url"], body, headers)
        except (OSError, TimeoutError):
            log.warning("a partner's webhook could not be reached")
            return False
        if not 200 <= status < 300:
            log.warning("a partner's webhook answered %d", status)
            return False
        return True

    async def mark_reviewing(self, report: PartnerReport) -> None:
        if report.status == "received":
            await self._store.partners.update_report(report.id, status="reviewing")


async def post_json(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    """POST ``body`` to a partner's webhook within ``WEBHOOK_TIMEOUT_S``; returns the
    status. Raises OSError or TimeoutError."""
    timeout = aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as client,
            client.post(url, data=body, headers=dict(headers), allow_redirects=False) as resp,
        ):
            return resp.status
    except aiohttp.ClientError as exc:
        raise OSError(str(exc)) from None


def for_node(state: Unlocked, clock: Clock, post: PostJson | None = post_json) -> PartnerService:
    """The partner service over an unlocked node's store and alerts."""
    keys = state.keys

    def own() -> list[bytes]:
        return [bytes(k.verify_key) for k in (keys.signing, *keys.previous)]

    return PartnerService(
        state.store, state.alerts, clock, own, lambda: str(state.settings["phone_region"]), post
    )


async def run_webhooks(node: HasUnlocked, clock: Clock) -> None:
    """The retry job (run by ``Jobs`` as "partner-webhooks"): every ``WEBHOOK_POLL_S``,
    post the queued recommendations that are due."""
    while True:
        await for_node(node.unlocked(), clock).deliver_webhooks()
        await clock.sleep(WEBHOOK_POLL_S)
