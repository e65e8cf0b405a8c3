"""The alert store: idempotent ingest, tombstones, supersede, retraction, expiry."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from node.store import Store
from protocol.alert import AlertBody, Indicator, coarsen_hour, sign_alert
from protocol.retraction import RetractionBody, sign_retraction

NOW = 1_790_000_000
KEY_A = nacl.signing.SigningKey(bytes(range(32)))
KEY_B = nacl.signing.SigningKey(bytes(range(1, 33)))


def alert(key: nacl.signing.SigningKey = KEY_A, text: str = "x", **kw: object):  # type: ignore[no-untyped-def]
    fields: dict[str, object] = dict(
        origin=bytes(key.verify_key),
        created=coarsen_hour(NOW),
        expires=coarsen_hour(NOW) + 30 * 86400,
        incident="2026-09-01",
        region="GB-LND",
        categories=("violence",),
        danger=3,
        indicators=(Indicator("phone", b"\x07" * 32, bytes(8), 1),),
        description=text,
        lang="en",
        hops=2,
        tlp="GREEN",
        nonce=hashlib.blake2b(text.encode(), digest_size=16).digest(),
    )
    fields.update(kw)
    return sign_alert(AlertBody(**fields), key, NOW)  # type: ignore[arg-type]


def retraction(target: bytes, key: nacl.signing.SigningKey = KEY_A, expires: int = NOW + 86400):  # type: ignore[no-untyped-def]
    body = RetractionBody(bytes(key.verify_key), target, "mistaken", coarsen_hour(NOW), expires)
    return sign_retraction(body, key, NOW)


def count_reads(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every single-row read ``store`` makes from now on."""
    reads: list[str] = []
    real_fetchone = store.db.fetchone

    async def counting(sql: str, params: Any = ()) -> Any:
        reads.append(sql)
        return await real_fetchone(sql, params)

    monkeypatch.setattr(store.db, "fetchone", counting)
    return reads


async def test_ingest_is_idempotent(store: Store) -> None:
    a = alert()
    assert await store.alerts.put_alert(a, hops=1, received_from=None, now=NOW)
    assert not await store.alerts.put_alert(a, hops=1, received_from=None, now=NOW)
    assert (await store.alerts.counts(NOW))["alerts"] == 1
    assert [r.id for r in await store.alerts.feed(0, 10)] == [a.id]


async def test_lookup_by_indicator_and_kind(store: Store) -> None:
    a = alert()
    await store.alerts.put_alert(a, hops=0, received_from=None, now=NOW)
    assert [x.id for x in await store.alerts.find_by_indicator("phone", b"\x07" * 32, NOW)] == [
        a.id
    ]
    assert await store.alerts.find_by_indicator("email", b"\x07" * 32, NOW) == []
    assert await store.alerts.find_by_indicator("phone", b"\x08" * 32, NOW) == []


async def test_retraction_drops_content_and_blocks_resurrection(store: Store) -> None:
    a = alert()
    await store.alerts.put_alert(a, hops=0, received_from=None, now=NOW)
    assert await store.alerts.put_retraction(retraction(a.id), hops=0, received_from=None, now=NOW)
    assert await store.alerts.find_by_indicator("phone", b"\x07" * 32, NOW) == []
    assert await store.alerts.get_alert(a.id, NOW) is None
    # A late copy of the alert does not come back.
    assert not await store.alerts.put_alert(a, hops=1, received_from=None, now=NOW)
    assert await store.alerts.list_active(NOW) == []
    assert [r.kind for r in await store.alerts.feed(0, 10)] == ["r"]


async def test_retraction_before_alert_is_a_tombstone(store: Store) -> None:
    a = alert()
    assert await store.alerts.put_retraction(retraction(a.id), hops=1, received_from=None, now=NOW)
    assert not await store.alerts.put_alert(a, hops=1, received_from=None, now=NOW)
    assert await store.alerts.list_active(NOW) == []


async def test_retraction_by_another_origin_is_refused(store: Store) -> None:
    a = alert()
    await store.alerts.put_alert(a, hops=0, received_from=None, now=NOW)
    assert not await store.alerts.put_retraction(
        retraction(a.id, KEY_B), hops=1, received_from=None, now=NOW
    )
    assert (await store.alerts.get_alert(a.id, NOW)) is not None


async def test_bogus_tombstone_from_another_origin_is_void(store: Store) -> None:
    a = alert()
    await store.alerts.put_retraction(retraction(a.id, KEY_B), hops=1, received_from=None, now=NOW)
    assert await store.alerts.put_alert(a, hops=1, received_from=None, now=NOW)
    assert (await store.alerts.get_alert(a.id, NOW)) is not None
    # The real origin can still retract it.
    assert await store.alerts.put_retraction(retraction(a.id), hops=0, received_from=None, now=NOW)


async def test_supersede_replaces_and_blocks_the_old_one(store: Store) -> None:
    old = alert(text="old")
    new = alert(text="new", supersedes=old.id)
    await store.alerts.put_alert(old, hops=0, received_from=None, now=NOW)
    await store.alerts.put_alert(new, hops=0, received_from=None, now=NOW)
    assert [x.id for x in await store.alerts.list_active(NOW)] == [new.id]
    assert not await store.alerts.put_alert(old, hops=0, received_from=None, now=NOW)


async def test_supersede_arriving_first_keeps_the_old_one_out(store: Store) -> None:
    old = alert(text="old")
    new = alert(text="new", supersedes=old.id)
    await store.alerts.put_alert(new, hops=1, received_from=None, now=NOW)
    assert not await store.alerts.put_alert(old, hops=1, received_from=None, now=NOW)
    assert [x.id for x in await store.alerts.list_active(NOW)] == [new.id]


async def test_other_origin_cannot_supersede(store: Store) -> None:
    old = alert(text="old")
    await store.alerts.put_alert(old, hops=0, received_from=None, now=NOW)
    rogue = alert(KEY_B, text="rogue", supersedes=old.id)
    await store.alerts.put_alert(rogue, hops=1, received_from=None, now=NOW)
    assert {x.id for x in await store.alerts.list_active(NOW)} == {old.id, rogue.id}


async def test_expired_alerts_are_purged_and_never_returned(store: Store) -> None:
    a = alert()
    await store.alerts.put_alert(a, hops=0, received_from=None, now=NOW)
    later = a.body.expires + 1
    assert await store.alerts.find_by_indicator("phone", b"\x07" * 32, later) == []
    assert await store.alerts.list_active(later) == []
    assert (await store.alerts.purge_expired(later))["alerts"] == 1
    assert await store.alerts.feed(0, 10) == []


async def test_sealed_rows_do_not_open_elsewhere(store: Store) -> None:
    sealed = store.crypto.seal("reports", "body", 1, b"secret")
    assert store.crypto.open("reports", "body", 1, sealed) == b"secret"
    from node.errors import StoreError

    with pytest.raises(StoreError):
        store.crypto.open("reports", "body", 2, sealed)


async def test_wrong_data_key_cannot_read(tmp_path: Path) -> None:
    s = await Store.open(tmp_path, b"\x01" * 32)
    a = alert()
    await s.alerts.put_alert(a, hops=0, received_from=None, now=NOW)
    await s.close()
    other = await Store.open(tmp_path, b"\x02" * 32)
    try:
        # The keyed indicator column does not match under another key ...
        assert await other.alerts.find_by_indicator("phone", b"\x07" * 32, NOW) == []
        # ... and the sealed body does not open.
        from node.errors import StoreError

        with pytest.raises(StoreError):
            await other.alerts.get_alert(a.id, NOW)
    finally:
        await other.close()


async def test_batch_mixes_plain_alerts_duplicates_tombstones_and_retractions(
    store: Store,
) -> None:
    first, second, gone = alert(text="1"), alert(text="2"), alert(text="gone")
    await store.alerts.put_retraction(retraction(gone.id), hops=1, received_from=None, now=NOW)
    newer = alert(text="newer", supersedes=first.id)
    results = await store.alerts.put_batch(
        [(first, 1, None), (second, 1, None), (first, 1, None), (gone, 1, None),
         (newer, 1, None), (retraction(second.id), 1, None)],
        NOW,
    )  # fmt: skip
    assert results == [True, True, False, False, True, True]
    assert [a.id for a in await store.alerts.list_active(NOW)] == [newer.id]
    feed = await store.alerts.feed(0, 100)
    assert len(feed) == len({r.id for r in feed})
    assert await store.alerts.find_by_indicator("phone", b"\x07" * 32, NOW) != []


async def test_a_writer_cancelled_at_any_await_leaves_no_transaction_open(
    tmp_path: Path,
) -> None:
    # A peer's worker is cancelled (peer removed, node stopping) while it stores: the
    # next writer must still be able to begin (regression: "cannot start a
    # transaction within a transaction" after a cancel landed on BEGIN).
    store = await Store.open(tmp_path, os.urandom(32))
    try:
        for turns in range(8):

            async def writer() -> None:
                async with store.db.transaction() as conn:
                    await conn.execute("INSERT INTO settings (name, value_enc) VALUES ('w', x'01')")
                    await asyncio.sleep(3600)

            task = asyncio.ensure_future(writer())
            for _ in range(turns):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            async with store.db.transaction() as conn:
                await conn.execute("DELETE FROM settings WHERE name = 'w'")
        assert await store.db.fetchall("SELECT * FROM settings WHERE name = 'w'") == []
    finally:
        await store.close()


async def test_an_unsynced_transaction_leaves_every_other_one_synced(store: Store) -> None:
    async def level() -> int:
        row = await store.db.fetchone("PRAGMA synchronous")
        assert row is not None
        return int(row[0])

    assert await level() == 2  # FULL
    async with store.db.transaction(synced=False) as conn:
        await conn.execute("INSERT INTO meta (name, value) VALUES ('x', 1)")
    assert await level() == 2
    with pytest.raises(RuntimeError):
        async with store.db.transaction(synced=False) as conn:
            await conn.execute("INSERT INTO meta (name, value) VALUES ('y', 1)")
            raise RuntimeError("rolled back")
    assert await level() == 2
    assert await store.db.fetchone("SELECT 1 FROM meta WHERE name = 'y'") is None


async def test_the_count_of_active_alerts_is_read_from_indexes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`status` counted active alerts row by row (state is not in the expiry index):
    9 s at a million alerts. Active = unexpired less unexpired inactive, both from
    indexes (alerts_expires, and the partial alerts_inactive)."""
    a, b, c = alert(text="a"), alert(text="b"), alert(text="c")
    d = alert(text="d", supersedes=b.id)
    for item in (a, b, c, d):
        await store.alerts.put_alert(item, hops=0, received_from=None, now=NOW)
    assert await store.alerts.put_retraction(retraction(a.id), hops=0, received_from=None, now=NOW)
    asked = count_reads(store, monkeypatch)
    counts = await store.alerts.counts(NOW)
    assert counts["alerts"] == 2 and counts["retractions"] == 1  # c and d
    plan = await store.db.fetchall("EXPLAIN QUERY PLAN " + asked[0], (NOW,) * asked[0].count("?"))
    steps = " / ".join(str(row[3]) for row in plan)
    assert "alerts_inactive" in steps, steps
    # The expiry index answers alone (covering); only inactive rows are visited.
    assert "USING COVERING INDEX alerts_expires" in steps, steps


async def test_a_peer_card_is_opened_once_and_a_changed_card_is_read_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server looks its caller up on every request: the card is opened once, and a
    move (new sealed bytes) is seen at once."""
    peer = b"\x07" * 32
    await store.peers.add(
        peer, "Lisbon", ("https://a.example",), (b"\x01" * 32,),
        accept="relay", share=True, proxy=None, now=NOW,
    )  # fmt: skip
    crypto = store.peers._crypto
    opened = []
    real_open = crypto.open

    def counting_open(*args):  # type: ignore[no-untyped-def]
        opened.append(args[1])
        return real_open(*args)

    monkeypatch.setattr(crypto, "open", counting_open)
    for _ in range(3):
        got = await store.peers.get(peer)
        assert got is not None and got.urls == ("https://a.example",)
    assert opened.count("card") <= 1
    assert await store.peers.set_urls(peer, ("https://b.example",), NOW + 1)
    got = await store.peers.get(peer)
    assert got is not None and got.urls == ("https://b.example",) and got.name == "Lisbon"


async def test_the_feed_epoch_is_read_once_and_a_new_one_is_seen_at_once(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server reads the epoch on every /changes and /bodies: from memory after the
    first read; a new epoch (a reset log) is what the next read gives, and is kept."""
    first = await store.alerts.epoch()
    reads = count_reads(store, monkeypatch)
    assert [await store.alerts.epoch() for _ in range(3)] == [first] * 3
    assert reads == []
    renewed = await store.alerts.new_epoch()
    assert renewed != first and await store.alerts.epoch() == renewed
    other = await Store.open(tmp_path, b"\x01" * 32)
    try:
        assert await other.alerts.epoch() == renewed
    finally:
        await other.close()


async def test_the_notifier_cursor_is_read_once_and_kept_as_written(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notifier reads its cursor each time an alert is stored: from memory once
    read or written, and what it wrote is what the database holds."""
    assert await store.notify.cursor() is None
    await store.notify.set_cursor(7)
    reads = count_reads(store, monkeypatch)
    assert [await store.notify.cursor() for _ in range(3)] == [7] * 3
    assert reads == []
    await store.notify.set_cursor(9)
    assert await store.notify.cursor() == 9
    other = await Store.open(tmp_path, b"\x01" * 32)
    try:
        assert await other.notify.cursor() == 9
    finally:
        await other.close()
