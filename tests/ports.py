"""Ports for tests and benchmarks on loopback.

Rule: everything a test or benchmark starts listens on 127.0.0.1 only.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

# Ports the kernel hands out on its own (a bind to port 0, an outgoing connection).
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Where free_port looks when the ephemeral range leaves no room below it.
LOWEST = 10_000
_pick = random.SystemRandom()  # not the global generator, which hypothesis seeds


def ephemeral_range() -> tuple[int, int]:
    """The kernel's ephemeral port range (Linux's default when it cannot be read)."""
    try:
        low, high = (int(x) for x in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999
    return low, high


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (``free_ports``)."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports on 127.0.0.1 that were free a moment ago, chosen below
    the kernel's ephemeral range: no socket bound to port 0 and no outgoing connection
    can take them before the caller binds them (a `make bench` run once failed on a
    federation port picked a moment before, already taken). Another caller may still
    pick the same ones; the range holds thousands.
    """
    low, high = ephemeral_range()
    if low - LOWEST >= 1000:
        bottom, top = LOWEST, low
    elif 65535 - high >= 1000:
        bottom, top = high + 1, 65536
    else:  # the kernel's range is nearly all ports: no port is safe from it
        bottom, top = LOWEST, 65536
    found: list[int] = []
    for _ in range(200 + 2 * count):
        port = _pick.randrange(bottom, top)
        if port in found:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise OSError("not enough free ports on 127.0.0.1")
