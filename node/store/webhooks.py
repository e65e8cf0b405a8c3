"""The partner webhook queue: recommendations waiting to be posted to a partner.

Rule: a queued call holds only the partner's id and, sealed, the answer the partner
may read anyway (GET /partner/v1/reports/ID); the webhook's address and secret stay
in the partner's sealed row and are read at each try, so a revoked partner or a
removed webhook is never called again. In clear: the due time and the tries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..keys.crypto import RowCrypto
from .db import Database

# Past this many waiting calls, new ones are not queued (the partner can poll).
MAX_QUEUED_WEBHOOKS = 10_000


@dataclass(frozen=True, slots=True)
class QueuedCall:
    id: int
    partner_id: int
    attempts: int
    body: dict[str, Any]


class WebhookQueue:
    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self._db = db
        self._crypto = crypto

    async def add(self, partner_id: int, body: dict[str, Any], due: int) -> int | None:
        """Queue one call; its row id, or None when the queue is full."""
        async with self._db.transaction() as conn:
            cur = await conn.execute("SELECT count(*) FROM partner_webhooks")
            row = await cur.fetchone()
            if row is not None and row[0] >= MAX_QUEUED_WEBHOOKS:
                return None
            cur = await conn.execute(
                "INSERT INTO partner_webhooks (partner_id, due, attempts, body_enc)"
                " VALUES (?, ?, 0, x'')",
                (partner_id, due),
            )
            row_id = int(cur.lastrowid or 0)
            sealed = self._crypto.seal(
                "partner_webhooks", "body", row_id, json.dumps(body).encode()
            )
            await conn.execute(
                "UPDATE partner_webhooks SET body_enc = ? WHERE id = ?", (sealed, row_id)
            )
        return row_id

    async def due(self, now: int, limit: int, only: int | None = None) -> list[QueuedCall]:
        """Calls due at ``now`` (or the one call ``only``, whenever it is due)."""
        if only is not None:
            rows = await self._db.fetchall(
                "SELECT id, partner_id, attempts, body_enc FROM partner_webhooks WHERE id = ?",
                (only,),
            )
        else:
            rows = await self._db.fetchall(
                "SELECT id, partner_id, attempts, body_enc FROM partner_webhooks"
                " WHERE due <= ? ORDER BY due, id LIMIT ?",
                (now, limit),
            )
        return [
            QueuedCall(
                r[0],
                r[1],
                r[2],
                json.loads(self._crypto.open("partner_webhooks", "body", r[0], r[3])),
            )
            for r in rows
        ]

    async def done(self, row_id: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM partner_webhooks WHERE id = ?", (row_id,))

    async def retry_at(self, row_id: int, due: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE partner_webhooks SET due = ?, attempts = attempts + 1 WHERE id = ?",
                (due, row_id),
            )

    async def length(self) -> int:
        row = await self._db.fetchone("SELECT count(*) FROM partner_webhooks")
        return int(row[0]) if row else 0
