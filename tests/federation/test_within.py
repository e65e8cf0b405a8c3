"""``within``: a timeout on the injected clock, the same on the system clock (where it
is asyncio's own, with no alarm task) and on a fake one."""

from __future__ import annotations

import asyncio

import pytest

from federation.clock import FakeClock, SystemClock, within

# A deadline that never fires while these tests run, and one that fires at once.
FAR_S = 3600.0
NOW_S = 0.0


async def _answer(ready: asyncio.Event) -> str:
    await ready.wait()
    return "answer"


async def test_the_answer_comes_back_on_the_system_clock() -> None:
    ready = asyncio.Event()
    ready.set()
    assert await within(SystemClock(), FAR_S, _answer(ready)) == "answer"


async def test_the_system_clock_times_out_with_timeout_error() -> None:
    with pytest.raises(TimeoutError):
        await within(SystemClock(), NOW_S, asyncio.Event().wait())


async def test_the_system_clock_starts_no_alarm_task() -> None:
    ready = asyncio.Event()
    waiting = asyncio.ensure_future(within(SystemClock(), FAR_S, _answer(ready)))
    await asyncio.sleep(0)
    # This test's task and the one waiting: no third task keeps the time.
    assert len(asyncio.all_tasks()) == 2
    ready.set()
    assert await waiting == "answer"


async def test_a_cancellation_from_outside_passes_through_on_the_system_clock() -> None:
    waiting = asyncio.ensure_future(within(SystemClock(), FAR_S, asyncio.Event().wait()))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert waiting.cancelled()


async def test_the_fake_clock_times_out_only_when_moved() -> None:
    clock = FakeClock()
    waiting = asyncio.ensure_future(within(clock, 5.0, asyncio.Event().wait()))
    await clock.elapse(4.0)
    assert not waiting.done()
    await clock.elapse(1.0)
    with pytest.raises(TimeoutError):
        await waiting
