"""The clock every component is given, so that tests can run on fake time.

Rule: no module in federation/ or node/ reads the system clock except ``SystemClock``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int:
        """Unix time in whole seconds."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> int:
        return int(time.time())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """A clock that moves only when told; ``sleep`` yields and advances it."""

    def __init__(self, start: int = 1_790_000_000) -> None:
        self.t = start

    def now(self) -> int:
        return self.t

    def advance(self, seconds: int) -> None:
        self.t += seconds

    async def sleep(self, seconds: float) -> None:
        self.t += int(seconds)
        await asyncio.sleep(0)
