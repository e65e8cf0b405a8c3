"""The regions that active alerts name, whoever published them.

Rule: region codes are sealed inside alert bodies and indexed only by a keyed tag, so
the list is built by walking the distinct tags of the region index (one seek each)
and opening one active alert per tag: its cost grows with the number of regions, not
of alerts, and it is bounded by ``MAX_ACTIVE_REGIONS``.
"""

from __future__ import annotations

from protocol.alert import read_stored_alert

from ..keys.crypto import RowCrypto
from .db import Database

# A hostile origin could name many regions; a member's page lists at most this many.
MAX_ACTIVE_REGIONS = 200


class RegionIndex:
    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self._db = db
        self._crypto = crypto

    async def active(self, now: int, limit: int = MAX_ACTIVE_REGIONS) -> list[str]:
        """The region codes of active alerts, sorted, at most ``limit``."""
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
