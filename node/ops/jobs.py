"""Background jobs with an owner.

Rule: every background task the node runs is started here (the syncer supervises its
own per-peer workers the same way), so that each one's failure is logged, never
lost, a failed loop restarts after a backoff instead of dying silently, and every
task is cancelled within a bounded time when the node stops. Periodic jobs record
what they last did for ``alertnode status``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from federation.clock import Clock

log = logging.getLogger(__name__)

RETENTION_INTERVAL_S = 3600
FIRST_RESTART_S = 1.0
MAX_RESTART_S = 300.0
STOP_TIMEOUT_S = 5.0


class Jobs:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self.last: dict[str, dict[str, Any]] = {}
        self.restarts: dict[str, int] = {}

    def spawn(self, name: str, coro: Awaitable[None]) -> asyncio.Task[None]:
        """Run ``coro`` once in the background; a failure is logged, never lost."""

        async def owned() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("background task %s failed: %s", name, type(exc).__name__)

        def done(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            # A task cancelled before its first step never awaited ``coro``: close it,
            # or Python warns "coroutine ... was never awaited" (a node stopped at once).
            if inspect.iscoroutine(coro):
                coro.close()

        task = asyncio.get_running_loop().create_task(owned(), name=name)
        self._tasks.add(task)
        task.add_done_callback(done)
        return task

    def supervise(self, name: str, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run the long-lived ``loop``; if it raises, log it and start it again after
        a backoff that doubles from ``FIRST_RESTART_S`` to ``MAX_RESTART_S``."""

        async def supervisor() -> None:
            delay = FIRST_RESTART_S
            while True:
                try:
                    await loop()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    # The type only: an exception's text may quote member data.
                    log.error(
                        "%s failed (%s); restarting in %.0f s", name, type(exc).__name__, delay
                    )
                await self._clock.sleep(delay)
                delay = min(delay * 2, MAX_RESTART_S)

        self.spawn(name, supervisor())

    def every(
        self, name: str, interval_s: float, job: Callable[[], Awaitable[dict[str, Any]]]
    ) -> None:
        """Run ``job`` now and then every ``interval_s``; record its result."""

        async def loop() -> None:
            while True:
                try:
                    result = await job()
                    self.last[name] = {"at": self._clock.now(), "ok": True, **result}
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.error("job %s failed: %s", name, type(exc).__name__)
                    self.last[name] = {
                        "at": self._clock.now(),
                        "ok": False,
                        "error": type(exc).__name__,
                    }
                await self._clock.sleep(interval_s)

        self.supervise(name, loop)

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Cancel every task and wait for them, but never longer than ``timeout_s``."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for task in pending:
                log.warning("background task %s did not stop in time", task.get_name())
