"""The bounded pool for every slow hash: indicator blinding, unlock and passphrases.

Rule: each slow hash holds tens of MiB while it runs, so at most
``MAX_CONCURRENT_SLOW_HASHES`` run at once, off the event loop; more callers wait
their turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from protocol import indicators

MAX_CONCURRENT_SLOW_HASHES = 2
T = TypeVar("T")


class SlowHashPool:
    def __init__(self, workers: int = MAX_CONCURRENT_SLOW_HASHES) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="blind")

    async def blind(self, kind: str, text: str, default_region: str) -> tuple[str, bytes]:
        """(normalised, blinded). Raises protocol.errors.InvalidIndicator."""
        normalised = indicators.normalise(kind, text, default_region)
        loop = asyncio.get_running_loop()
        blinded = await loop.run_in_executor(
            self._pool, indicators.blind_normalised, kind, normalised
        )
        return normalised, blinded

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run another slow hash (unlock, passphrases) in the same bounded pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
