"""Bodies being fetched right now, across every pull of one node.

Rule: while one pull is fetching an id's body, no other pull asks its peer for the
same body; the other waits until that fetch is over (stored durably, refused by our
trust policy, cut or failed) and then asks only for what is still missing, so a body
one peer's answer did not give us is still fetched from another. A wait is bounded
by ``IN_FLIGHT_WAIT_S`` on the injected clock; after it, the waiter asks anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Protocol, TypeVar

from .clock import Clock, within
from .transport import REQUEST_TIMEOUT_S

# How long a pull waits for another pull fetching the same bodies before asking too.
IN_FLIGHT_WAIT_S = 2 * REQUEST_TIMEOUT_S


class HasId(Protocol):
    @property
    def id(self) -> bytes: ...


E = TypeVar("E", bound=HasId)


class InFlight:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # Each id in flight, with the event set when its fetch is over.
        self._ids: dict[bytes, asyncio.Event] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def claim(self, entries: Sequence[E]) -> tuple[list[E], list[E]]:
        """Split ``entries`` into those the caller now fetches (marked in flight: it
        must ``release`` them) and those another pull is fetching."""
        mine: list[E] = []
        theirs: list[E] = []
        done = asyncio.Event()
        for e in entries:
            if e.id in self._ids:
                theirs.append(e)
            else:
                self._ids[e.id] = done
                mine.append(e)
        return mine, theirs

    def release(self, entries: Sequence[HasId]) -> None:
        """The fetch of ``entries`` is over: wake whoever waits for them."""
        for e in entries:
            event = self._ids.pop(e.id, None)
            if event is not None:
                event.set()

    async def wait(self, entries: Sequence[HasId]) -> None:
        """Until no other pull is fetching any of ``entries``, or IN_FLIGHT_WAIT_S."""
        events = {self._ids[e.id] for e in entries if e.id in self._ids}
        if events:
            with contextlib.suppress(TimeoutError):
                await within(
                    self._clock, IN_FLIGHT_WAIT_S, asyncio.gather(*(e.wait() for e in events))
                )
