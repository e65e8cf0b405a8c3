"""Background jobs with an owner.

Rule: every background task the node runs is started here, so that each one's
failure is logged (never lost) and each one is cancelled when the node stops.
Periodic jobs record what they last did for ``alertnode status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from federation.clock import Clock

log = logging.getLogger(__name__)

RETENTION_INTERVAL_S = 3600


class Jobs:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self.last: dict[str, dict[str, Any]] = {}

    def spawn(self, name: str, coro: Awaitable[None]) -> asyncio.Task[None]:
        async def owned() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %s failed", name)

        task = asyncio.get_running_loop().create_task(owned(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

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
                    log.exception("job %s failed", name)
                    self.last[name] = {
                        "at": self._clock.now(),
                        "ok": False,
                        "error": type(exc).__name__,
                    }
                await self._clock.sleep(interval_s)

        self.spawn(name, loop())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
