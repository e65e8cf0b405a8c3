"""Regions for travelling members: her own node's regions and those that alerts from
other organisations name.

Rule: a member may browse, check and subscribe for every region an active alert on
this node names, not only the regions her organisation set; the node's own come
first, the others after them, each list sorted and without repeats.
"""

from __future__ import annotations

from aiohttp import web

from .context import host, unlocked


async def region_choices(request: web.Request) -> tuple[list[str], list[str]]:
    """(the node's own regions, the other regions active alerts name)."""
    parts = unlocked(request)
    own: list[str] = list(parts.settings["regions"])
    seen = await parts.store.regions.active(host(request).clock.now())
    return own, [r for r in seen if r not in own]
