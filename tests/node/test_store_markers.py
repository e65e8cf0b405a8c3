"""Markers in the store: claims on alerts not held yet, kept per (alert, origin); the
counts the quotas read; and the migration that turns the old first-come tombstones
into markers (issue 12, items 1 and 4)."""

from __future__ import annotations

from pathlib import Path

import nacl.signing
import pytest

from node.store import Store, db
from node.store.schema import MIGRATIONS
from tests.node.test_store import KEY_A, KEY_B, NOW, alert, retraction

A, B = bytes(KEY_A.verify_key), bytes(KEY_B.verify_key)
PEER, OTHER_PEER = b"\x01" * 32, b"\x02" * 32
OWN = nacl.signing.SigningKey(bytes(range(2, 34)))


async def markers(store: Store) -> int:
    return (await store.alerts.counts(NOW))["markers"]


async def test_claims_by_two_origins_on_one_id_are_kept_apart(store: Store) -> None:
    x = alert(text="x")
    rogue = retraction(x.id, KEY_B)
    real = retraction(x.id, KEY_A)
    assert await store.alerts.put_retraction(rogue, hops=1, received_from=PEER, now=NOW)
    assert await store.alerts.put_retraction(real, hops=1, received_from=OTHER_PEER, now=NOW)
    assert await markers(store) == 2
    # The id is fetched when offered: a marker does not make it known ...
    assert await store.alerts.known_ids([x.id]) == set()
    # ... and when it comes, its own origin's retraction acts; B's claim is dropped.
    assert not await store.alerts.put_alert(x, hops=1, received_from=PEER, now=NOW)
    assert await store.alerts.get_alert(x.id, NOW) is None
    assert await store.alerts.known_ids([x.id, rogue.id, real.id]) == {x.id, real.id}
    assert await markers(store) == 0
    # A's retraction now reaches wherever the alert could go; B's left the feed.
    assert [(r.kind, r.id, r.max_hops, r.tlp) for r in await store.alerts.feed(0, 10)] == [
        ("r", real.id, 2, "GREEN")
    ]


async def test_a_superseding_alert_by_another_origin_marks_nothing_that_acts(
    store: Store,
) -> None:
    old = alert(text="old")
    rogue = alert(KEY_B, text="rogue", supersedes=old.id)
    assert await store.alerts.put_alert(rogue, hops=1, received_from=PEER, now=NOW)
    assert await markers(store) == 1
    assert await store.alerts.put_alert(old, hops=1, received_from=PEER, now=NOW)
    assert {a.id for a in await store.alerts.list_active(NOW)} == {old.id, rogue.id}
    assert await markers(store) == 0


async def test_markers_expire_with_their_claim(store: Store) -> None:
    x = alert(text="x")
    await store.alerts.put_retraction(
        retraction(x.id, KEY_B, expires=NOW + 3600), hops=1, received_from=PEER, now=NOW
    )
    assert await store.alerts.count_markers(None, NOW) == 1
    assert await store.alerts.count_markers(None, NOW + 3600) == 0
    assert (await store.alerts.purge_expired(NOW + 3600))["markers"] == 1
    assert await store.alerts.put_alert(x, hops=1, received_from=PEER, now=NOW)


async def test_quota_counts(store: Store) -> None:
    mine = alert(OWN, text="mine")
    from_a = [alert(text=f"a{n}") for n in range(3)]
    from_b = [alert(KEY_B, text=f"b{n}") for n in range(2)]
    await store.alerts.put_alert(mine, hops=0, received_from=None, now=NOW)
    items = [(a, 1, PEER) for a in from_a] + [(b, 2, OTHER_PEER) for b in from_b]
    await store.alerts.put_batch(items, NOW)
    await store.alerts.put_retraction(
        retraction(from_b[0].id, KEY_B), hops=2, received_from=OTHER_PEER, now=NOW
    )
    await store.alerts.put_retraction(
        retraction(b"\x09" * 32, KEY_B), hops=2, received_from=OTHER_PEER, now=NOW
    )
    alerts = store.alerts
    assert await alerts.count_delivered([PEER], NOW) == 3
    assert await alerts.count_delivered([OTHER_PEER, b"\x03" * 32], NOW) == 1  # one retracted
    assert await alerts.count_delivered([], NOW) == 0
    # Delivered alerts whose origin is not among the known keys (this node's own never).
    assert await alerts.count_unnamed([], NOW) == 4
    assert await alerts.count_unnamed([B], NOW) == 3
    assert await alerts.count_unnamed([A, B], NOW) == 0
    assert await alerts.count_markers([OTHER_PEER], NOW) == 1
    assert await alerts.count_markers([PEER], NOW) == 0
    assert await alerts.count_markers(None, NOW) == 1
    assert await alerts.alert_origins([from_a[0].id, from_b[0].id, b"\x09" * 32]) == {
        from_a[0].id: A,
        from_b[0].id: B,
    }
    later = from_a[0].body.expires
    assert await alerts.count_delivered([PEER], later) == 0


async def test_old_first_come_tombstones_become_markers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store written before migration 5 kept a claim on an alert not yet held as a
    tombstone of whichever origin named it first; after the migration it is a marker."""
    x, y = alert(text="x"), alert(text="y")
    rogue, real = retraction(x.id, KEY_B), retraction(y.id, KEY_A)
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS[:4])
    old = await Store.open(tmp_path, b"\x01" * 32)
    async with old.db.transaction() as conn:
        for r, origin in ((rogue, B), (real, A)):
            target = r.body.alert
            await conn.execute(
                "INSERT INTO alerts (id, origin, state, created, expires, hops, max_hops, tlp,"
                " stored_at) VALUES (?, ?, 'retracted', 0, ?, 0, 0, 'RED', ?)",
                (target, origin, r.body.expires, NOW),
            )
            sealed = old.crypto.seal("retractions", "envelope", r.id, r.envelope.to_bytes())
            await conn.execute(
                "INSERT INTO retractions (alert_id, id, origin, expires, hops, received_from,"
                " stored_at, envelope_enc) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                (target, r.id, origin, r.body.expires, PEER, NOW, sealed),
            )
            await conn.execute("INSERT INTO log (kind, id) VALUES ('r', ?)", (r.id,))
    await old.close()
    monkeypatch.setattr(db, "MIGRATIONS", MIGRATIONS)
    new = await Store.open(tmp_path, b"\x01" * 32)
    try:
        store = new
        assert await store.alerts.count_markers([PEER], NOW) == 2
        assert await store.alerts.known_ids([x.id, y.id]) == set()
        # B's claim on A's alert x is void; A's own claim on y acts.
        assert await store.alerts.put_alert(x, hops=1, received_from=PEER, now=NOW)
        assert not await store.alerts.put_alert(y, hops=1, received_from=PEER, now=NOW)
        assert [a.id for a in await store.alerts.list_active(NOW)] == [x.id]
        got = await store.alerts.get_envelopes([real.id], NOW)
        assert got == {real.id: real.envelope.to_bytes()}
        assert await markers(store) == 0
    finally:
        await new.close()
