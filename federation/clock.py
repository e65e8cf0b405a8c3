"""The clock every component is given, so that tests can run on fake time.

Rule: no module in federation/ or node/ reads the system clock except ``SystemClock``;
every wait that a test may want to skip goes through ``Clock.sleep`` (or
``Clock.timeout`` and ``within``, a timeout on that clock), so on a ``FakeClock``
nothing happens until a test moves time.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeVar

T = TypeVar("T")

# How long a test helper waits, in real time, for the code under test to reach a
# state before the test fails (a bound for failing, never a pause in the logic).
SETTLE_TIMEOUT_S = 10.0
# How many loop turns ``FakeClock.elapse`` gives woken sleepers before moving on.
SETTLE_TURNS = 50


class Clock(Protocol):
    def now(self) -> int:
        """Unix time in whole seconds."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for rates and intervals)."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[object]:
        """A block that raises TimeoutError once ``seconds`` pass on this clock (the
        block's task is cancelled then); a cancellation from outside passes through."""
        ...


class SystemClock:
    def now(self) -> int:
        return int(time.time())

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[object]:
        # This clock's sleeps are the event loop's timers, so asyncio's own timeout is
        # the same deadline without a task of its own (every request to a peer is
        # timed; an alarm task was most of what timing one cost).
        return asyncio.timeout(seconds)


async def within(clock: Clock, seconds: float, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` in this task; raise TimeoutError once ``seconds`` pass on
    ``clock``. A cancellation from outside is passed on unchanged."""
    assert asyncio.current_task() is not None, "within() runs inside a task"
    async with clock.timeout(seconds):
        return await awaitable


@contextlib.asynccontextmanager
async def alarm_timeout(clock: Clock, seconds: float) -> AsyncIterator[None]:
    """``Clock.timeout`` for a clock whose time is not the event loop's: an alarm task
    sleeps ``seconds`` on ``clock``, then cancels the block's task."""
    current = asyncio.current_task()
    assert current is not None, "a timeout runs inside a task"
    fired = False

    async def alarm() -> None:
        nonlocal fired
        await clock.sleep(seconds)
        fired = True
        current.cancel()

    timer = asyncio.ensure_future(alarm())
    try:
        yield
    except asyncio.CancelledError:
        if fired and current.uncancel() == 0:
            raise TimeoutError(f"no answer within {seconds} s") from None
        raise
    except BaseException:
        if fired:
            current.uncancel()
        raise
    finally:
        timer.cancel()
    if fired:
        current.uncancel()  # the answer won the race against the alarm


class FakeClock:
    """A clock that moves only when a test moves it.

    ``sleep`` waits until the test has moved time past its deadline: ``advance`` moves
    time and wakes the sleepers that are due (they run at the test's next ``await``);
    ``elapse`` moves time step by step, waking due sleepers in deadline order and
    letting each run before the next. ``sleeping`` waits until the code under test has
    gone to sleep, so a test knows when to move time.
    """

    def __init__(self, start: int = 1_790_000_000) -> None:
        self.t: float = start
        self._order = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._changed: asyncio.Event | None = None
        # Every duration asked of ``sleep``, in order: tests read backoff from it.
        self.requested: list[float] = []

    def now(self) -> int:
        return int(self.t)

    def monotonic(self) -> float:
        return float(self.t)

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[object]:
        return alarm_timeout(self, seconds)

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self._wake_due()

    async def sleep(self, seconds: float) -> None:
        self.requested.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + seconds, next(self._order), future))
        self._notify()
        await future

    def next_due(self) -> float | None:
        """The deadline of the soonest live sleeper (clock time), or None if none waits.

        A simulation moves time straight to it (``advance``) once the loop is idle."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    def pending(self) -> list[float]:
        """Seconds until each live sleeper is due, soonest first."""
        return sorted(d - self.t for d, _, f in self._sleepers if not f.done())

    async def sleeping(self, count: int = 1, timeout_s: float = SETTLE_TIMEOUT_S) -> list[float]:
        """Wait until at least ``count`` sleepers wait; return ``pending()``.

        Raises TimeoutError (real time) if the code under test never gets there."""
        async with asyncio.timeout(timeout_s):
            while len(self.pending()) < count:
                if self._changed is None:
                    self._changed = asyncio.Event()
                self._changed.clear()
                await self._changed.wait()
        return self.pending()

    async def elapse(self, seconds: float) -> None:
        """Move time on by ``seconds``, waking due sleepers in deadline order."""
        target = self.t + seconds
        while True:
            await _turns(SETTLE_TURNS)
            due = [d for d, _, f in self._sleepers if not f.done() and d <= target]
            if not due:
                break
            self.t = max(self.t, min(due))
            self._wake_due()
        self.t = target
        await _turns(SETTLE_TURNS)

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self.t:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
        self._notify()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()


async def _turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)
