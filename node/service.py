"""Alerts as the node's people see them: publish, retract, list and check.

Rule: every alert this node signs goes through ``protocol.alert.sign_alert`` (so it
is checked exactly as a receiver would check it); a correction (``supersedes``)
never reaches further than the alert it corrects; every check blinds the member's
input in the bounded pool and compares blinded values only; no plaintext indicator is
stored, logged or returned. Every publish draws a fresh nonce, so it is a new alert;
only a repeated idempotency key (which never leaves this process, and is kept only as
a keyed hash, bounded and expiring) returns an earlier publish's id instead. New alerts are blinded
with the network's current key; a check blinds once under each key that unexpired
alerts were blinded with.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import nacl.signing

from federation.clock import Clock
from federation.hops import relayable
from federation.trust import Peer
from protocol.alert import AlertBody, Indicator, coarsen_hour, read_stored_alert, sign_alert
from protocol.errors import ProtocolError
from protocol.extensions import EMPTY, Extensions
from protocol.feed import IdEntry
from protocol.fields import CATEGORIES, RETRACTION_REASONS, TLP_LABELS, TLP_MAX_HOPS
from protocol.indicators import SUITE, SUITES
from protocol.limits import ALERT_NONCE_BYTES, DAY_S
from protocol.retraction import RetractionBody, sign_retraction
from protocol.warning import WARNING_EXT

from .display import DisplayCache, alert_fields
from .errors import NotFound, UsageError
from .keys.slowhash import NetworkKeyRing, SlowHashPool
from .settings import Settings
from .store import Store, StoredAlert
from .store.pages import Cursor
from .store.totals import HeldCount

log = logging.getLogger(__name__)

# Called after this node stores something new of its own, with the entries it added
# to the feed its peers are served (what a poke names: federation/news.py).
Notify = Callable[[Sequence[IdEntry]], Awaitable[None]]
RandomBytes = Callable[[int], bytes]

# A repeated publish (a double-submitted form, a retried CLI call) with the same
# idempotency key within this time returns the first publish's id.
IDEMPOTENCY_TTL_S = DAY_S
MAX_IDEMPOTENCY_KEYS = 4096
MAX_IDEMPOTENCY_KEY_CHARS = 128
# Checks are counted for the monthly totals in memory and written in batches of this
# many (and hourly, before a totals report and when the node stops): a crash loses at
# most this many from the count.
CHECKS_PER_FLUSH = 32


@dataclass(frozen=True, slots=True)
class Draft:
    """What a caseworker (or the CLI) asks to publish, before blinding."""

    categories: Sequence[str]
    danger: int
    region: str
    indicators: Sequence[tuple[str, str]] = ()  # (kind, plaintext)
    description: str = ""
    lang: str = "en"
    hops: int | None = None
    tlp: str = "GREEN"
    expires_days: int | None = None
    incident: str | None = None
    supersedes: bytes | None = None
    translations: Sequence[tuple[str, str]] = ()  # (language tag, text)
    partner_checks: bool = False
    # An area warning's kind (protocol/warning.py): no indicators, category other.
    warning: str | None = None
    # Chosen by the client (the web form draws one per render); never on the wire.
    idempotency_key: str | None = None

    def digest(self, secret: bytes) -> bytes:
        """A keyed hash of what is asked for (the key excepted), to spot a reused key."""
        fields = (
            tuple(self.categories), self.danger, self.region, tuple(map(tuple, self.indicators)),
            self.description, self.lang, self.hops, self.tlp, self.expires_days, self.incident,
            self.supersedes, tuple(map(tuple, self.translations)), self.partner_checks,
            self.warning,
        )  # fmt: skip
        return hashlib.blake2b(repr(fields).encode(), key=secret, digest_size=32).digest()


class Idempotency:
    """Publishes remembered by idempotency key: keyed hash -> (draft digest, alert id).

    The client's key is never stored as given: only BLAKE2b keyed with a secret drawn
    when the node starts, kept in memory only, at most ``MAX_IDEMPOTENCY_KEYS`` entries
    (the oldest go first), each for ``IDEMPOTENCY_TTL_S``.
    """

    def __init__(self, random_bytes: RandomBytes, clock: Clock) -> None:
        self.secret = random_bytes(32)
        self._clock = clock
        self._seen: dict[bytes, tuple[bytes, bytes, int]] = {}
        self.lock = asyncio.Lock()

    def _hash(self, key: str) -> bytes:
        if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY_CHARS or not key.isprintable():
            raise UsageError(
                f"an idempotency key is 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable characters"
            )
        return hashlib.blake2b(key.encode(), key=self.secret, digest_size=32).digest()

    def _expire(self) -> None:
        now = self._clock.now()
        for hashed in [h for h, (_, _, until) in self._seen.items() if until <= now]:
            del self._seen[hashed]

    def get(self, key: str, digest: bytes) -> bytes | None:
        """The id an earlier publish with ``key`` made, or None. Raises UsageError."""
        self._expire()
        hit = self._seen.get(self._hash(key))
        if hit is None:
            return None
        if hit[0] != digest:
            raise UsageError("that idempotency key was already used for a different alert")
        return hit[1]

    def put(self, key: str, digest: bytes, alert_id: bytes) -> None:
        while len(self._seen) >= MAX_IDEMPOTENCY_KEYS:
            del self._seen[next(iter(self._seen))]
        self._seen[self._hash(key)] = (digest, alert_id, self._clock.now() + IDEMPOTENCY_TTL_S)

    def __len__(self) -> int:
        return len(self._seen)


# One page of alerts as ``alert_json`` shapes them, and the cursor of the next page.
AlertPage = tuple[list[dict[str, Any]], Cursor | None]


def alert_json(
    alert: StoredAlert, names: Mapping[bytes, str], fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The shape ``alert list`` and ``check`` print for one alert (``fields``: its
    ``alert_fields``, if already decoded)."""
    return named_json(
        alert.id, alert.origin, names, alert_fields(alert.envelope) if fields is None else fields
    )


def named_json(
    alert_id: bytes, origin: bytes, names: Mapping[bytes, str], fields: dict[str, Any]
) -> dict[str, Any]:
    """``alert_json`` from an alert's id, origin and ``alert_fields``."""
    return {
        "id": alert_id.hex(),
        "origin": origin.hex(),
        "organisation": names.get(origin, "another organisation"),
        # Whether this node can name the origin (itself or a peer, under any of its
        # keys); anyone can make a new origin, so an unnamed one proves nothing.
        "origin_known": origin in names,
        **fields,
    }


def warning_extension(kind: str | None) -> Extensions:
    """The ``ext`` of an area warning of ``kind`` (none for an ordinary alert)."""
    return EMPTY if kind is None else Extensions.of({WARNING_EXT: kind}, (WARNING_EXT,))


def check_correction_reach(corrected: AlertBody, hops: int, tlp: str, partner: bool) -> None:
    """Refuse a correction that would reach further than the alert it corrects.

    The corrected alert's reach is the only trace of the member's sharing choice left
    once her report is purged or deleted, so a correction may keep or narrow it: no
    more hops, a TLP label at least as strict, partner checks only if it had them.
    Raises UsageError.
    """
    wider_tlp = TLP_LABELS.index(tlp) < TLP_LABELS.index(corrected.tlp)
    if hops > corrected.hops or wider_tlp or (partner and not corrected.partner_checks):
        raise UsageError(
            "a correction reaches no further than the alert it corrects: at most "
            f"{corrected.hops} hops, TLP:{corrected.tlp} or stricter"
            + ("" if corrected.partner_checks else ", no partner checks")
        )


def organisation_names(
    peers: Sequence[Peer], own: Sequence[bytes], own_name: str
) -> tuple[dict[bytes, str], dict[bytes, bytes]]:
    """The organisations this node can name, by every key each signed with: this node
    (``own``: its current key last) and its peers, retired keys included. Returns each
    key's organisation name, and which organisation it is (its current key).

    Only these count as organisations in a check: any origin a peer relays could have
    been made up by that peer. (No signed statement yet lets a peer introduce the
    organisations it trusts; until one does, only peers count.)
    """
    names: dict[bytes, str] = {}
    organisations: dict[bytes, bytes] = {}
    for peer in peers:
        for key in peer.keys:
            names[key], organisations[key] = peer.name, peer.key
    for key in own:
        names[key], organisations[key] = own_name, own[-1]
    return names, organisations


def parse_alert_id(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise UsageError("an alert id is 64 hexadecimal characters, as 'alert list' shows")
    return raw


class AlertService:
    def __init__(
        self,
        store: Store,
        signing_key: nacl.signing.SigningKey,
        clock: Clock,
        hashes: SlowHashPool,
        settings: Settings,
        names: Callable[[], Mapping[bytes, str]],
        network: NetworkKeyRing,
        random_bytes: RandomBytes = os.urandom,
        organisations: Callable[[], Mapping[bytes, bytes]] | None = None,
    ) -> None:
        self._store = store
        self._network = network
        self._random = random_bytes
        self._idempotency = Idempotency(random_bytes, clock)
        self._key = signing_key
        self._previous: dict[bytes, nacl.signing.SigningKey] = {}
        self._clock = clock
        self._hashes = hashes
        self._settings = settings
        # Organisation names by every key this node can name (its own, its peers',
        # retired keys included), and which organisation each key is (its current key);
        # without the second, each named key counts as an organisation of its own.
        self._names = names
        self._organisations = organisations
        self._listeners: list[Notify] = []
        # Checks counted for the monthly totals: in memory, written every
        # CHECKS_PER_FLUSH (a write per check would add milliseconds to every check).
        self._checks = HeldCount(store.totals, "checks", CHECKS_PER_FLUSH)
        # Decoded alerts for pages (display.py), for as long as this unlocking lasts.
        self._display = DisplayCache()

    async def flush_counts(self) -> None:
        """Write the checks counted in memory to the monthly totals."""
        await self._checks.flush()

    @property
    def origin(self) -> bytes:
        return bytes(self._key.verify_key)

    def set_keys(
        self, current: nacl.signing.SigningKey, previous: Sequence[nacl.signing.SigningKey]
    ) -> None:
        """Sign with ``current`` from now on; ``previous`` keys still retract old alerts."""
        self._key = current
        self._previous = {bytes(k.verify_key): k for k in previous}

    def on_new_item(self, listener: Notify) -> None:
        """Call ``listener`` after anything new is stored (federation pokes peers)."""
        self._listeners.append(listener)

    async def notify(self, news: Sequence[IdEntry]) -> None:
        for listener in self._listeners:
            await listener(news)

    async def _blind_all(self, pairs: Sequence[tuple[str, str]]) -> tuple[Indicator, ...]:
        """Blind each (kind, text) under the network's current key. Raises UsageError."""
        region = self._settings["phone_region"]
        key = self._network.current
        out = []
        for kind, text in pairs:
            try:
                _, blinded = await self._hashes.blind(kind, text, region, key, SUITE)
            except ProtocolError as exc:
                raise UsageError(f"{kind}: {exc}") from None
            out.append(Indicator(kind, blinded, key.key_id, SUITE))
        return tuple(dict.fromkeys(out))

    async def blind_indicators(self, pairs: Sequence[tuple[str, str]]) -> tuple[Indicator, ...]:
        """The indicators a new alert would carry (the caseworker's preview).

        Raises UsageError."""
        return await self._blind_all(pairs)

    async def _blind_for_check(self, kind: str, text: str, now: int) -> list[bytes]:
        """The member's input blinded under every key in use by unexpired alerts that
        this node holds, with each blinding suite they carry: one slow hash per (suite,
        key). Raises UsageError."""
        in_use = await self._store.alerts.indicator_key_ids(SUITES, now)
        keys = [
            (suite, k) for suite, key_id in in_use if (k := self._network.get(key_id)) is not None
        ]
        try:
            return await self._hashes.blind_each(kind, text, self._settings["phone_region"], keys)
        except ProtocolError as exc:
            raise UsageError(f"{kind}: {exc}") from None

    async def publish(self, draft: Draft) -> bytes:
        """Sign and store a new alert; returns its id. Raises UsageError.

        With ``draft.idempotency_key`` set, a second publish of the same draft with the
        same key (within ``IDEMPOTENCY_TTL_S``) returns the first id and makes nothing.
        """
        if draft.idempotency_key is None:
            return await self._publish(draft)
        seen = self._idempotency
        digest = draft.digest(seen.secret)
        async with seen.lock:
            earlier = seen.get(draft.idempotency_key, digest)
            if earlier is not None:
                return earlier
            alert_id = await self._publish(draft)
            seen.put(draft.idempotency_key, digest, alert_id)
            return alert_id

    async def _publish(self, draft: Draft) -> bytes:
        for cat in draft.categories:
            if cat not in CATEGORIES:
                raise UsageError(f"unknown category {cat!r}; use one of {', '.join(CATEGORIES)}")
        if draft.tlp not in TLP_LABELS:
            raise UsageError(f"unknown TLP label; use one of {', '.join(TLP_LABELS)}")
        now = self._clock.now()
        created = coarsen_hour(now)
        days = draft.expires_days or self._settings["alert_expiry_days"]
        if not 1 <= days <= 365:
            raise UsageError("an alert expires after 1 to 365 days")
        hops = self._settings["alert_hops"] if draft.hops is None else draft.hops
        # TLP caps the reach: RED stays here, AMBER and AMBER+STRICT reach direct peers.
        hops = min(hops, TLP_MAX_HOPS[draft.tlp])
        translations = {tag.strip(): text.strip() for tag, text in draft.translations}
        today = datetime.datetime.fromtimestamp(now, datetime.UTC).date().isoformat()
        if draft.supersedes is not None:
            old = await self._store.alerts.get_alert(draft.supersedes, now)
            # Only the same key can supersede (peers check the origin); after a key
            # rotation an older alert is retracted and published anew instead.
            if old is None or old.origin != self.origin:
                raise UsageError("only an active alert published by this node can be superseded")
            corrected = read_stored_alert(old.envelope)
            if draft.hops is None:
                hops = min(hops, corrected.hops)
            check_correction_reach(corrected, hops, draft.tlp, draft.partner_checks)
        body = AlertBody(
            origin=self.origin,
            created=created,
            expires=created + days * DAY_S,
            incident=draft.incident or today,
            region=draft.region.strip().upper(),
            categories=tuple(dict.fromkeys(draft.categories)),
            danger=draft.danger,
            indicators=await self._blind_all(draft.indicators),
            description=draft.description.strip(),
            lang=draft.lang,
            hops=hops,
            tlp=draft.tlp,
            supersedes=draft.supersedes,
            nonce=self._random(ALERT_NONCE_BYTES),
            translations=tuple(sorted((t, x) for t, x in translations.items() if x)),
            partner_checks=draft.partner_checks,
            ext=warning_extension(draft.warning),
        )
        try:
            verified = sign_alert(body, self._key, now)
        except ProtocolError as exc:
            raise UsageError(str(exc)) from None
        await self._store.alerts.put_alert(verified, hops=0, received_from=None, now=now)
        counter = "alerts_published" if draft.warning is None else "warnings_published"
        await self._store.totals.bump(counter, now)
        log.info("published an alert")
        # The pokes name it, so each peer fetches it by id without reading our feed;
        # one that may go no further than this node is in no peer's feed.
        shared = relayable(body.hops, body.tlp, 0)
        await self.notify((IdEntry("a", verified.id, 0),) if shared else ())
        return verified.id

    async def retract(self, alert_id: bytes, reason: str = "other") -> bytes:
        """Sign and store a retraction of one of this node's alerts. Raises UsageError/NotFound."""
        if reason not in RETRACTION_REASONS:
            raise UsageError(f"unknown reason; use one of {', '.join(RETRACTION_REASONS)}")
        now = self._clock.now()
        alert = await self._store.alerts.get_alert(alert_id, now)
        if alert is None:
            raise NotFound("no active alert has that id")
        key = self._key if alert.origin == self.origin else self._previous.get(alert.origin)
        if key is None:
            raise UsageError("only the organisation that published an alert can retract it")
        expires = read_stored_alert(alert.envelope).expires
        body = RetractionBody(alert.origin, alert_id, reason, coarsen_hour(now), expires)
        verified = sign_retraction(body, key, now)
        await self._store.alerts.put_retraction(verified, hops=0, received_from=None, now=now)
        log.info("retracted an alert")
        await self.notify((IdEntry("r", verified.id, 0),))
        return verified.id

    async def list(self, *, region: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Active alerts, newest first; ``limit`` -1 means all."""
        rows = await self._store.alerts.list_active(self._clock.now(), region=region, limit=limit)
        names = self._names()
        return [alert_json(a, names) for a in rows]

    async def browse(
        self,
        *,
        regions: Sequence[str] = (),
        category: str | None = None,
        min_danger: int | None = None,
        limit: int = 100,
        before: Cursor | None = None,
    ) -> AlertPage:
        """One page of active alerts, newest first, under a member's filters (any of
        ``regions``, naming ``category``, of ``min_danger`` or worse), older than
        ``before``; and the cursor of the next page, None if this is the last."""
        store = self._store.alerts
        rows, cursor = await store.page_rows(
            self._clock.now(),
            limit=limit,
            regions=regions,
            category=category,
            min_danger=min_danger,
            before=before,
        )
        names = self._names()
        removals = store.removals
        alerts = [
            named_json(
                r.id,
                r.origin,
                names,
                self._display.fields(r.id, partial(store.open_row, r), removals),
            )
            for r in rows
        ]
        return alerts, cursor

    async def check(self, kind: str, text: str) -> dict[str, Any]:
        """Aggregate the active alerts matching one indicator. Raises UsageError.

        ``organisations`` counts only organisations this node can name (itself and its
        peers); matches whose origin it cannot name, which any relaying peer could
        have made up, are counted apart in ``unknown_organisation_alerts``.
        """
        now = self._clock.now()
        found: dict[bytes, StoredAlert] = {}
        for blinded in await self._blind_for_check(kind, text, now):
            for alert in await self._store.alerts.find_by_indicator(kind, blinded, now):
                found[alert.id] = alert
        self._checks.add(now)
        names = self._names()
        organisation = self._organisations() if self._organisations else {}
        alerts = sorted(
            (alert_json(a, names) for a in found.values()),
            key=lambda a: (a["incident"], a["created"]),
            reverse=True,
        )
        known = {organisation.get(a.origin, a.origin) for a in found.values() if a.origin in names}
        return {
            "matches": len(alerts),
            "organisations": len(known),
            "unknown_organisation_alerts": sum(not a["origin_known"] for a in alerts),
            "max_danger": max((a["danger"] for a in alerts), default=0),
            "categories": sorted({c for a in alerts for c in a["categories"]}),
            "latest": alerts[0]["incident"] if alerts else None,
            "alerts": alerts,
        }
