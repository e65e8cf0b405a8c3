"""The regions that active alerts name, whoever published them.

Rule: region codes are sealed inside alert bodies and indexed only by a keyed tag, so
the list is built by walking the distinct tags of the region index (one seek each)
and opening one active alert per tag: its cost grows with the number of regions, not
of alerts, and it is bounded by ``MAX_ACTIVE_REGIONS``. The list is kept for
``REGION_LIST_TTL_S`` (every alerts page asks for it) while no alert is stored or
removed (the alert store's ``changes`` count).
"""

from __future__ import annotations

from collections.abc import Callable

from protocol.alert import read_stored_alert

from ..keys.crypto import RowCrypto
from .db import Database

# A hostile origin could name many regions; a member's page lists at most this many.
MAX_ACTIVE_REGIONS = 200
# How long the list of active regions is reused before it is built again.
REGION_LIST_TTL_S = 60


class RegionIndex:
    def __init__(self, db: Database, crypto: RowCrypto, changes: Callable[[], int]) -> None:
        self._db = db
        self._crypto = crypto
        self._changes = changes
        # (built at, limit, changes count then, regions)
        self._kept: tuple[int, int, int, list[str]] | None = None

    async def active(self, now: int, limit: int = MAX_ACTIVE_REGIONS) -> list[str]:
        """The region codes of active alerts, sorted, at most ``limit`` (as of at most
        ``REGION_LIST_TTL_S`` before ``now``)."""
        kept, changes = self._kept, self._changes()
        if (
            kept is not None
            and kept[1:3] == (limit, changes)
            and kept[0] <= now < kept[0] + REGION_LIST_TTL_S
        ):
            return list(kept[3])
        regions = await self._build(now, limit)
        self._kept = (now, limit, changes, regions)
        return list(regions)

    async def _build(self, now: int, limit: int) -> list[str]:
        found: set[str] = set()
        tag = b""
        while len(found) < limit:
            row = await self._db.fetchone(
                "SELECT region_tag FROM alerts WHERE region_tag > ? ORDER BY region_tag LIMIT 1",
                (tag,),
            )
            if row is None:
                break
            tag = row[0]
            alert = await self._db.fetchone(
                "SELECT id, body_enc FROM alerts WHERE region_tag = ?"
                " AND state = 'active' AND expires > ? LIMIT 1",
                (tag, now),
            )
            if alert is not None:
                envelope = self._crypto.open("alerts", "body", alert[0], alert[1])
                found.add(read_stored_alert(envelope).region)
        return sorted(found)
