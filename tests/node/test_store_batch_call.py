"""A batch of new alerts that supersede nothing is stored in one call to the database
thread (issue 17, item 2: BEGIN, the rows and COMMIT together, not three calls); a
batch that needs a decision (a marked alert, a retraction, a supersede) goes one by
one as before."""

from __future__ import annotations

import asyncio

import pytest

from node.store import Store
from node.store.alerts import QUICK_BATCH_ITEMS
from tests.dbcalls import count_calls
from tests.node.test_store import KEY_A, NOW, alert, retraction

PEER = b"\x01" * 32


async def test_new_alerts_and_copies_of_held_ones_take_one_call(store: Store) -> None:
    held, first, second = alert(text="held"), alert(text="one"), alert(text="two")
    assert await store.alerts.put_alert(held, hops=1, received_from=PEER, now=NOW)
    changes = store.alerts.changes
    calls = count_calls(store.db)
    batch = [(held, 2, PEER), (first, 1, PEER), (second, 3, PEER), (first, 1, PEER)]
    assert await store.alerts.put_batch(batch, NOW) == [False, True, True, False]
    assert calls["all"] == 1
    assert store.alerts.changes == changes + 1
    assert await store.alerts.known_ids([first.id, second.id]) == {first.id, second.id}
    # What is already held is left as it was.
    calls.clear()
    assert await store.alerts.put_batch([(held, 1, PEER)], NOW) == [False]
    assert calls["all"] == 1
    assert store.alerts.changes == changes + 1


async def test_a_few_unsynced_new_alerts_take_no_call_while_the_thread_is_idle(
    store: Store,
) -> None:
    """A relayed alert arrives alone in its pull's batch: an unsynced batch of at most
    QUICK_BATCH_ITEMS is written on the event loop's thread (Database.write's quick);
    a larger one still goes in one call."""
    few = [(alert(text=f"few {n}"), 1, PEER) for n in range(QUICK_BATCH_ITEMS)]
    more = [(alert(text=f"more {n}"), 1, PEER) for n in range(QUICK_BATCH_ITEMS + 1)]
    calls = count_calls(store.db)
    assert await store.alerts.put_batch(few, NOW, synced=False) == [True] * len(few)
    assert calls["all"] == 0
    assert await store.alerts.put_batch(more, NOW, synced=False) == [True] * len(more)
    assert calls["all"] == 1
    ids = [a.id for a, _, _ in few + more]
    assert await store.alerts.known_ids(ids) == set(ids)


async def test_a_marked_alert_is_decided_one_by_one(store: Store) -> None:
    gone, other = alert(text="withdrawn"), alert(text="other")
    assert await store.alerts.put_retraction(
        retraction(gone.id, KEY_A), hops=1, received_from=PEER, now=NOW
    )
    calls = count_calls(store.db)
    assert await store.alerts.put_batch([(other, 1, PEER), (gone, 1, PEER)], NOW) == [True, False]
    # The one call that found the marker wrote nothing; then BEGIN, the plain ones,
    # the marked one's reads and writes, COMMIT.
    assert calls["all"] > 3
    assert await store.alerts.get_alert(gone.id, NOW) is None
    assert await store.alerts.known_ids([other.id]) == {other.id}


async def test_a_batch_cancelled_in_its_one_call_is_stored_and_seen(store: Store) -> None:
    new = alert(text="cancelled on its way")
    changes = store.alerts.changes
    task = asyncio.ensure_future(store.alerts.put_batch([(new, 1, PEER)], NOW))
    await asyncio.sleep(0)  # the call is queued on the database thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The call ran to its end: the alert is held, and the views read it again.
    assert await store.alerts.known_ids([new.id]) == {new.id}
    assert store.alerts.changes > changes
