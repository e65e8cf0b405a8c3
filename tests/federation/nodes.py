"""Helpers for tests with several real in-process nodes on loopback."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from node.app import Node
from node.service import Draft

WAIT_S = 20.0


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = WAIT_S) -> None:
    """Poll ``check`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def pair(a: Node, b: Node, accept: str = "relay") -> None:
    """Make ``a`` and ``b`` peers of each other (both directions)."""
    pa, pb = a.unlocked().trust, b.unlocked().trust
    await pa.add_peer(pb.card(), accept, True, None)
    await pb.add_peer(pa.card(), accept, True, None)


def draft(n: int = 0, *, hops: int = 2, phone: str | None = None, **kw: object) -> Draft:
    fields: dict[str, object] = dict(
        categories=["violence"],
        danger=3,
        region="GB",
        indicators=[("phone", phone)] if phone else [],
        description=f"alert number {n}",
        hops=hops,
    )
    fields.update(kw)
    return Draft(**fields)  # type: ignore[arg-type]


async def has_alert(node: Node, alert_id: bytes) -> bool:
    store = node.unlocked().store
    return await store.alerts.get_alert(alert_id, node.clock.now()) is not None


def count_bodies(nodes: list[Node]) -> Counter[tuple[bytes, bytes, bytes]]:
    """Count (from, to, id) for every body each node receives from now on."""
    seen: Counter[tuple[bytes, bytes, bytes]] = Counter()
    for node in nodes:
        me = bytes.fromhex(node.config.key)

        def observe(peer: bytes, item: bytes, me: bytes = me) -> None:
            seen[(peer, me, item)] += 1

        node.unlocked().trust.syncer.observer = observe
    return seen
