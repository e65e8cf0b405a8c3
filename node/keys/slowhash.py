"""The bounded pool for every slow hash (indicator blinding, unlock, passphrases), and
the node's ring of network blinding keys.

Rule: each slow hash holds tens of MiB while it runs, so at most
``MAX_CONCURRENT_SLOW_HASHES`` run at once, off the event loop; more callers wait
their turn. The ring is the only holder of the network keys in memory; every change
to it is sealed to disk (``keystore.save_network_keys``) before it is used, and
nothing about a key but its id is ever logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from protocol import indicators
from protocol.indicators import NetworkKey, current_key

from ..errors import UsageError

MAX_CONCURRENT_SLOW_HASHES = 2
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
    def __init__(self, workers: int = MAX_CONCURRENT_SLOW_HASHES) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="blind")

    async def blind(
        self, kind: str, text: str, default_region: str, key: NetworkKey
    ) -> tuple[str, bytes]:
        """(normalised, blinded under ``key``). Raises protocol.errors.InvalidIndicator."""
        normalised = indicators.normalise(kind, text, default_region)
        loop = asyncio.get_running_loop()
        blinded = await loop.run_in_executor(
            self._pool, indicators.blind_normalised, kind, normalised, key
        )
        return normalised, blinded

    async def blind_each(
        self, kind: str, text: str, default_region: str, keys: Sequence[NetworkKey]
    ) -> list[bytes]:
        """The blinded value under each of ``keys`` (one slow hash per key, in the pool).

        Raises protocol.errors.InvalidIndicator."""
        normalised = indicators.normalise(kind, text, default_region)
        loop = asyncio.get_running_loop()
        return list(
            await asyncio.gather(
                *(
                    loop.run_in_executor(
                        self._pool, indicators.blind_normalised, kind, normalised, key
                    )
                    for key in keys
                )
            )
        )

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run another slow hash (unlock, passphrases) in the same bounded pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
