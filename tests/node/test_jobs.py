"""Jobs: a task stopped before its first step leaves nothing behind."""

from __future__ import annotations

import gc
import warnings
from typing import Any

from federation.clock import FakeClock
from node.ops.jobs import Jobs


async def test_jobs_stopped_before_they_ran_leave_no_unawaited_coroutine() -> None:
    # A node stopped right after it unlocked cancelled its jobs before their first step;
    # the coroutines they wrapped were never awaited and Python warned about each one.
    ran: list[str] = []

    async def job() -> dict[str, Any]:
        ran.append("job")
        return {}

    async def once() -> None:
        ran.append("once")

    jobs = Jobs(FakeClock())
    jobs.every("retention", 3600, job)
    jobs.spawn("once", once())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await jobs.stop()
        gc.collect()
    assert ran == []
    assert [str(w.message) for w in caught] == []
