"""Pages asked for at once share one read of the store (node/store/pages.py).

Issue 17 item 5: twenty members opening the alerts page at once queued twenty copies
of the same indexed statements on the one database thread.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from .test_store import NOW, alert
from .test_store_ingest_jobs import _open

MEMBERS = 20


async def test_twenty_identical_pages_at_once_read_the_store_once(tmp_path: Path) -> None:
    store, conn = await _open(tmp_path)
    try:
        batch = [(alert(text=str(n)), 1, None) for n in range(5)]
        await store.alerts.put_batch(batch, NOW)
        alone, _ = await store.alerts.page_rows(NOW, limit=10)
        one_read = conn.calls
        await store.alerts.page_rows(NOW, limit=10)
        one_read = conn.calls - one_read
        before = conn.calls
        pages = await asyncio.gather(
            *(store.alerts.page_rows(NOW, limit=10) for _ in range(MEMBERS))
        )
        assert conn.calls - before == one_read
        assert all(rows == alone for rows, _ in pages)
        assert store.alerts.pages_in_flight == {}
        # Other filters are other reads.
        before = conn.calls
        await asyncio.gather(
            store.alerts.page_rows(NOW, limit=10),
            store.alerts.page_rows(NOW, limit=10, regions=["GB-LND"]),
        )
        assert conn.calls - before > one_read
    finally:
        await store.close()


async def test_a_page_asked_for_after_a_store_is_not_joined_to_an_older_read(
    tmp_path: Path,
) -> None:
    store, _ = await _open(tmp_path)
    try:
        await store.alerts.put_batch([(alert(text="old"), 1, None)], NOW)
        first = asyncio.ensure_future(store.alerts.page_rows(NOW, limit=10))
        await asyncio.sleep(0)  # its read is in progress
        assert len(store.alerts.pages_in_flight) == 1
        store.alerts.changes += 1  # what put_batch does once a new alert is durable
        second = asyncio.ensure_future(store.alerts.page_rows(NOW, limit=10))
        await asyncio.sleep(0)
        assert len(store.alerts.pages_in_flight) == 2
        await asyncio.gather(first, second)
    finally:
        await store.close()


async def test_a_member_leaving_does_not_cancel_the_others_page(tmp_path: Path) -> None:
    store, _ = await _open(tmp_path)
    try:
        await store.alerts.put_batch([(alert(text="a"), 1, None)], NOW)
        leaving = asyncio.ensure_future(store.alerts.page_rows(NOW, limit=10))
        staying = asyncio.ensure_future(store.alerts.page_rows(NOW, limit=10))
        await asyncio.sleep(0)
        leaving.cancel()
        rows, _ = await staying
        assert len(rows) == 1
    finally:
        await store.close()
