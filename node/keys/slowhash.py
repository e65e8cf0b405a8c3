"""The bounded pool for every slow hash (indicator blinding, unlock, passphrases), and
the node's ring of network blinding keys.

Rule: each slow hash holds tens of MiB while it runs, so at most
``MAX_CONCURRENT_SLOW_HASHES`` run at once, off the event loop; more callers wait
their turn. While one runs or waits, ``quiet`` holds a catch-up's next batch back
(for at most MAX_QUIET_WAIT_S): a member's check has the cores first. A blinding that
comes while another slow hash runs or waits runs over the pool's ``Arena``, when it
has one (``node.keys.argon2``): in a burst of checks each reuses the memory of the
last instead of mapping 64 MiB afresh. A lone blinding keeps libsodium, which maps
its memory faster than a new block is made. The moment the pool falls idle, or before
it runs another kind of slow hash, the arena's idle memory is freed, so the pool never
holds more than it ran at once.

The ring is the only holder of the network keys in memory; every change to it is
sealed to disk (``keystore.save_network_keys``) before it is used, and nothing about a
key but its id is ever logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from federation.clock import Clock, SystemClock
from protocol import indicators
from protocol.indicators import NetworkKey, current_key

from ..errors import UsageError
from . import argon2
from .argon2 import Arena

MAX_CONCURRENT_SLOW_HASHES = 2
# The longest a catch-up's batch waits for members' slow hashes to finish
# (SlowHashPool.quiet): members first, but a steady stream of checks does not stop a
# catch-up.
MAX_QUIET_WAIT_S = 1.0
# How many network keys a node keeps; keys beyond it are refused, never evicted
# silently (a hostile peer cannot push the network's keys out).
MAX_NETWORK_KEYS = 64
T = TypeVar("T")

Persist = Callable[[tuple[NetworkKey, ...]], None]


class NetworkKeyRing:
    """The network blinding keys this node holds, by key id; ``persist`` seals a set."""

    def __init__(self, keys: Iterable[NetworkKey], persist: Persist) -> None:
        self._keys: dict[bytes, NetworkKey] = {k.key_id: k for k in keys}
        self._persist = persist

    def keys(self) -> tuple[NetworkKey, ...]:
        """Every key held, in key-id order."""
        return tuple(self._keys[i] for i in sorted(self._keys))

    def get(self, key_id: bytes) -> NetworkKey | None:
        return self._keys.get(key_id)

    @property
    def current(self) -> NetworkKey:
        """The key new alerts are blinded with (``protocol.indicators.current_key``)."""
        return current_key(self._keys.values())

    def add(self, keys: Iterable[NetworkKey]) -> bool:
        """Add the keys not yet held (sealed to disk first); whether any was new.

        A key whose id is held with another secret is ignored (a 64-bit collision or a
        forgery); keys beyond MAX_NETWORK_KEYS are dropped."""
        merged = dict(self._keys)
        for key in keys:
            if key.key_id not in merged and len(merged) < MAX_NETWORK_KEYS:
                merged[key.key_id] = key
        if len(merged) == len(self._keys):
            return False
        self._persist(tuple(merged[i] for i in sorted(merged)))
        self._keys = merged
        return True

    def rotate(self, secret: bytes) -> NetworkKey:
        """Add a new key one epoch above every key held; it becomes current.

        Raises UsageError when the ring is full, protocol.errors.InvalidIndicator
        past the last epoch."""
        if len(self._keys) >= MAX_NETWORK_KEYS:
            raise UsageError(f"this node already holds {MAX_NETWORK_KEYS} network keys")
        epoch = max((k.epoch for k in self._keys.values()), default=-1) + 1
        key = NetworkKey(secret, epoch)
        self.add([key])
        return key


class SlowHashPool:
    """Runs slow hashes, at most ``workers`` at once, and tells a catch-up when none is
    running (``quiet``): a member waiting on a blinding or a log-in has the cores
    before the verification of a peer's bulk."""

    def __init__(
        self,
        workers: int = MAX_CONCURRENT_SLOW_HASHES,
        clock: Clock | None = None,
        arena: Arena | bool | None = True,
    ) -> None:
        """``arena``: True for ``argon2.native_arena()`` (an Arena when the Argon2
        binding was built on this machine), False or None for libsodium alone, or the
        Arena to use."""
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="blind")
        self._clock = clock or SystemClock()
        self._arena = argon2.native_arena() if arena is True else (arena or None)
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # The last trim of the arena handed to the pool (awaitable by tests).
        self.trimmed: Future[None] | None = None

    @property
    def arena(self) -> Arena | None:
        """The arena blindings run over (None: libsodium maps memory for each)."""
        return self._arena

    @contextlib.contextmanager
    def _member_work(self) -> Iterator[None]:
        self._running += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._running -= 1
            if not self._running:
                self._idle.set()
                if self._arena is not None and self._arena.held_bytes:
                    # Off the event loop: freeing 64 MiB is the kernel's work too.
                    with contextlib.suppress(RuntimeError):  # the pool is shut down
                        self.trimmed = self._pool.submit(self._arena.trim)

    def _blinder(
        self, kind: str, normalised: str, key: NetworkKey, suite: int
    ) -> Callable[[], bytes]:
        # Called inside _member_work: this blinding is counted in _running already.
        arena = self._arena
        kdf = arena.hash if arena is not None and self._running > 1 else None
        return functools.partial(indicators.blind_normalised, kind, normalised, key, suite, kdf)

    @property
    def busy(self) -> bool:
        """Whether a slow hash is running or waiting for its turn."""
        return self._running > 0

    async def quiet(self) -> None:
        """Return once no slow hash is running or waiting, or after MAX_QUIET_WAIT_S."""
        if self._running:
            with contextlib.suppress(TimeoutError):
                async with self._clock.timeout(MAX_QUIET_WAIT_S):
                    await self._idle.wait()

    async def blind(
        self,
        kind: str,
        text: str,
        default_region: str,
        key: NetworkKey,
        suite: int = indicators.SUITE,
    ) -> tuple[str, bytes]:
        """(normalised, blinded under ``key`` with ``suite``). Raises
        protocol.errors.InvalidIndicator."""
        normalised = indicators.normalise(kind, text, default_region)
        loop = asyncio.get_running_loop()
        with self._member_work():
            blinded = await loop.run_in_executor(
                self._pool, self._blinder(kind, normalised, key, suite)
            )
        return normalised, blinded

    async def blind_each(
        self,
        kind: str,
        text: str,
        default_region: str,
        keys: Sequence[tuple[int, NetworkKey]],
    ) -> list[bytes]:
        """The blinded value for each (suite, key) of ``keys`` (one slow hash each, in
        the pool). Raises protocol.errors.InvalidIndicator."""
        normalised = indicators.normalise(kind, text, default_region)
        loop = asyncio.get_running_loop()
        with self._member_work():
            return list(
                await asyncio.gather(
                    *(
                        loop.run_in_executor(
                            self._pool, self._blinder(kind, normalised, key, suite)
                        )
                        for suite, key in keys
                    )
                )
            )

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run another slow hash (unlock, passphrases) in the same bounded pool: the
        arena's idle memory is freed first, as that hash maps its own."""
        loop = asyncio.get_running_loop()
        with self._member_work():
            return await loop.run_in_executor(self._pool, self._other, fn, args)

    def _other(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._arena is not None:
            self._arena.trim()
        return fn(*args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
