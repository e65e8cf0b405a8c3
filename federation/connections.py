"""Which connections a port keeps: deadlines and caps (``ConnectionLimits``), the key
a client is counted under (``address_key``) and the table of open connections that
decides who is pushed out when a cap is reached (``ConnectionTable``). No I/O: the
listener (federation/listener.py) applies it to sockets.

Rule: a new connection over the per-address or the total cap pushes out the oldest
connection that is waiting (in its TLS handshake, idle, or still sending its request
head), first among those never answered; a connection whose request is being
answered is never pushed out, and when every connection in the way is busy the new
one is refused. An address is a counting key in memory only.
"""

from __future__ import annotations

import collections
import ipaddress
from dataclasses import dataclass
from typing import Any, Protocol


class Counted(Protocol):
    """A connection as the table sees it."""

    key: str
    handed_over: bool  # False while still in its TLS handshake

    def abort(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Deadlines and caps for one listening port (defaults: the federation port's).
    Raises ValueError for a timeout that is not positive, a peer's idle timeout
    shorter than the idle timeout, or caps out of order."""

    handshake_timeout_s: float = 10.0
    idle_timeout_s: float = 30.0
    # A connection whose last request was signed by a trusted peer (signature, key and
    # nonce checked) may idle this long: pooled between a node's pulls (every 300 s,
    # federation.workers), a new alert does not wait for TCP and TLS at each hop.
    peer_idle_timeout_s: float = 600.0
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    stall_timeout_s: float = 30.0
    max_connections: int = 256
    max_per_address: int = 32
    max_line_bytes: int = 8190
    max_field_bytes: int = 8190

    def __post_init__(self) -> None:
        timeouts = (
            self.handshake_timeout_s,
            self.idle_timeout_s,
            self.peer_idle_timeout_s,
            self.header_timeout_s,
            self.body_timeout_s,
            self.stall_timeout_s,
        )
        if min(timeouts) <= 0:
            raise ValueError("every connection timeout is a positive number of seconds")
        if self.peer_idle_timeout_s < self.idle_timeout_s:
            raise ValueError("a peer's connection may idle at least as long as any other")
        if not 1 <= self.max_per_address <= self.max_connections:
            raise ValueError("the per-address cap is at least 1 and at most the total cap")


def address_key(peername: Any) -> str:
    """The key connections are counted under: an IPv4 address, or an IPv6 address's
    /64 (one subscriber's share); an IPv4-mapped IPv6 address counts as IPv4."""
    if not isinstance(peername, tuple) or not peername:
        return ""
    try:
        address = ipaddress.ip_address(str(peername[0]).split("%", 1)[0])
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class ConnectionTable:
    """The open connections of one port, counted per address, with the waiting ones in
    the order they would be pushed out. Counters for tests and status: ``refused``,
    ``evicted`` and ``timed_out``."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._open: set[Counted] = set()
        self._per_address: collections.Counter[str] = collections.Counter()
        # Waiting connections, oldest first: never answered, then answered before.
        self._fresh: dict[Counted, None] = {}
        self._kept: dict[Counted, None] = {}
        self.refused = 0
        self.evicted = 0
        self.timed_out = 0

    def __len__(self) -> int:
        return len(self._open)

    def count(self, key: str) -> int:
        return self._per_address[key]

    def admit(self, guard: Counted) -> bool:
        """Count ``guard`` in, pushing out a waiting connection if a cap is reached;
        False if every connection in the way is busy (the caller refuses it)."""
        key = guard.key
        if self._per_address[key] >= self.limits.max_per_address and not self._evict(key):
            self.refused += 1
            return False
        if len(self._open) >= self.limits.max_connections and not self._evict(None):
            self.refused += 1
            return False
        self._open.add(guard)
        self._per_address[key] += 1
        self._fresh[guard] = None
        return True

    def waiting(self, guard: Counted, *, answered: bool) -> None:
        """``guard`` waits for a request: it may be pushed out, oldest first."""
        if guard in self._open:
            self.busy(guard)
            (self._kept if answered else self._fresh)[guard] = None

    def busy(self, guard: Counted) -> None:
        """``guard`` has a request in progress: it is never pushed out."""
        self._fresh.pop(guard, None)
        self._kept.pop(guard, None)

    def release(self, guard: Counted) -> None:
        """``guard`` is closed; idempotent."""
        if guard in self._open:
            self._open.discard(guard)
            self.busy(guard)
            self._per_address[guard.key] -= 1
            if not self._per_address[guard.key]:
                del self._per_address[guard.key]

    def _evict(self, key: str | None) -> bool:
        for waiting in (self._fresh, self._kept):
            for guard in waiting:
                if key is None or guard.key == key:
                    self.release(guard)
                    self.evicted += 1
                    guard.abort()
                    return True
        return False

    def abort_unhandled(self) -> None:
        """Abort the connections aiohttp does not know of yet (still in their TLS
        handshake): a stopping port closes them itself."""
        for guard in list(self._open):
            if not guard.handed_over:
                self.release(guard)
                guard.abort()
