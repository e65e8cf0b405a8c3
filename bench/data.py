"""Fast benchmark data: pre-signed alerts from fixed keys, bulk-loaded into a store.

Rule: nothing here changes what a node stores. Alerts are real v1 envelopes signed by
fixed origin keys (the first of each batch is checked with ``verify_alert``, exactly
as a receiver would); rows are written with the production schema, sealing and tags
(``node.store`` internals), only in large transactions instead of one per alert.
Blinding (Argon2id) is done once per distinct plaintext indicator; the bulk of the
alerts carry stand-in 32-byte blinded values, which to the store are indistinguishable
from real ones.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import nacl.signing

from node.store import Store
from protocol import indicators
from protocol.alert import AlertBody, Indicator, coarsen_hour, verify_alert
from protocol.fields import CATEGORIES, DANGER_LEVELS
from protocol.limits import DAY_S, MAX_HOPS
from protocol.signing import Envelope, Kind, object_id

ORIGIN_COUNT = 40
BULK_BATCH_ROWS = 50_000
EXPIRY_DAYS = 90
_TAG = Kind.ALERT.tag


def origin_key(i: int) -> nacl.signing.SigningKey:
    """Fixed origin key number ``i`` (the same in every run)."""
    return nacl.signing.SigningKey(hashlib.sha256(b"alertnode-bench-origin-%d" % i).digest())


_KEYS: dict[int, nacl.signing.SigningKey] = {}


def _key(i: int) -> nacl.signing.SigningKey:
    key = _KEYS.get(i)
    if key is None:
        key = _KEYS[i] = origin_key(i)
    return key


@dataclass(frozen=True, slots=True)
class SignedAlert:
    """A pre-signed alert and the columns the store keeps beside it."""

    id: bytes
    origin: bytes
    created: int
    expires: int
    max_hops: int
    tlp: str
    region: str
    envelope: bytes
    indicators: tuple[tuple[str, bytes], ...]
    categories: tuple[str, ...] = ("violence",)
    danger: int = 3


# The data set's alerts spread over these regions, category pairs and danger levels
# (alert n takes entry n modulo each length), so that page filters select a fraction.
REGIONS = tuple(f"GB-R{r:02d}" for r in range(20))
CATEGORY_PAIRS = tuple(zip(CATEGORIES, CATEGORIES[1:] + CATEGORIES[:1], strict=True))
# Alert n was created this many hours before the newest (n modulo this).
CREATED_SPREAD_HOURS = 240


# The network key the benchmark pair shares (bench.shared installs it in A and B),
# and the key id the stand-in values claim.
BENCH_NETWORK_KEY = indicators.NetworkKey(hashlib.blake2b(b"bench-network-key").digest()[:32])
STAND_IN_KEY_ID = BENCH_NETWORK_KEY.key_id


def stand_in_blinded(n: int) -> bytes:
    """A 32-byte value standing for the blinded indicator of alert ``n``."""
    return hashlib.blake2b(b"bench-indicator-%d" % n, digest_size=32).digest()


def blind_phones(numbers: Sequence[str], region: str = "GB") -> dict[str, bytes]:
    """Real Argon2id blinding, once per distinct number."""
    return {
        n: indicators.blind("phone", n, BENCH_NETWORK_KEY, region) for n in dict.fromkeys(numbers)
    }


def make_alerts(
    count: int,
    now: int,
    *,
    start: int = 0,
    hops: int = MAX_HOPS,
    origins: Sequence[int] = tuple(range(ORIGIN_COUNT)),
    extra: dict[int, bytes] | None = None,
    keys: Sequence[nacl.signing.SigningKey] | None = None,
    key_id: bytes = STAND_IN_KEY_ID,
) -> list[SignedAlert]:
    """``count`` distinct signed alerts numbered from ``start``, round-robin over origins.

    ``extra`` maps an alert number to a real blinded phone value it also carries.
    ``keys`` overrides the origin keys (e.g. a node's own key). ``key_id``: the network
    key every indicator names (the stand-ins', and the one ``extra`` was blinded with).
    """
    newest = coarsen_hour(now) - 3600
    signers = list(keys) if keys is not None else [_key(i) for i in origins]
    publics = [bytes(k.verify_key) for k in signers]
    extra = extra or {}
    out: list[SignedAlert] = []
    for n in range(start, start + count):
        k = n % len(signers)
        created = newest - 3600 * (n % CREATED_SPREAD_HOURS)
        expires = created + EXPIRY_DAYS * DAY_S
        incident = datetime.datetime.fromtimestamp(created, datetime.UTC).date().isoformat()
        region = REGIONS[n % len(REGIONS)]
        categories = CATEGORY_PAIRS[n % len(CATEGORY_PAIRS)]
        danger = DANGER_LEVELS[n % len(DANGER_LEVELS)]
        # Labelled with the suite new alerts use, as the checks blind with it.
        inds = [Indicator("phone", stand_in_blinded(n), key_id, indicators.SUITE)]
        if n in extra:
            inds.append(Indicator("phone", extra[n], key_id, indicators.SUITE))
        body = AlertBody(
            origin=publics[k],
            created=created,
            expires=expires,
            incident=incident,
            region=region,
            categories=categories,
            danger=danger,
            indicators=tuple(inds),
            description=(
                f"Benchmark alert {n}: refused to pay, became aggressive at the door, "
                "followed the worker to the street."
            ),
            lang="en",
            hops=hops,
            tlp="GREEN",
            nonce=n.to_bytes(16, "big"),
        ).to_bytes()
        sig = signers[k].sign(_TAG + body).signature
        envelope = Envelope(Kind.ALERT, publics[k], body, sig).to_bytes()
        out.append(
            SignedAlert(
                object_id(Kind.ALERT, body),
                publics[k],
                created,
                expires,
                hops,
                "GREEN",
                region,
                envelope,
                tuple((i.kind, i.blinded) for i in inds),
                categories,
                danger,
            )
        )
    if out:
        # The generator makes exactly what a receiver accepts.
        checked = verify_alert(out[0].envelope, now)
        assert checked.id == out[0].id
    return out


async def bulk_insert(
    store: Store,
    alerts: Sequence[SignedAlert],
    *,
    hops: int,
    received_from: bytes | None,
    now: int,
    key_id: bytes = STAND_IN_KEY_ID,
) -> None:
    """Write ``alerts`` as ``AlertStore.put_alert`` would, in large transactions
    (``key_id``: the network key their indicators name, as ``make_alerts`` made them).

    Only for benchmark set-up: synchronous=OFF and a large page cache while loading,
    restored afterwards. The schema, sealing and tags are the store's own.
    """
    db, alerts_store = store.db, store.alerts
    region_tags: dict[str, bytes] = {}
    await db.conn.execute("PRAGMA synchronous=OFF")
    await db.conn.execute("PRAGMA cache_size=-1000000")
    try:
        for start in range(0, len(alerts), BULK_BATCH_ROWS):
            batch = alerts[start : start + BULK_BATCH_ROWS]
            rows = []
            for a in batch:
                tag = region_tags.get(a.region)
                if tag is None:
                    tag = region_tags[a.region] = alerts_store.region_tag(a.region)
                rows.append(
                    alerts_store.row_for(
                        a.id,
                        a.origin,
                        a.created,
                        a.expires,
                        a.max_hops,
                        a.tlp,
                        tag,
                        a.envelope,
                        a.indicators,
                        hops,
                        received_from,
                        now,
                        key_ids=[(indicators.SUITE, key_id)],
                        categories=a.categories,
                        danger=a.danger,
                    )
                )
            async with db.transaction() as conn:
                await alerts_store.insert_active(conn, rows)
    finally:
        await db.conn.execute("PRAGMA cache_size=-2000")
        await db.conn.execute("PRAGMA synchronous=FULL")
    await db.checkpoint()


def cleanup() -> None:
    """Remove the shared data sets built during this run (bench.shared)."""
    from . import shared

    shared.cleanup()
