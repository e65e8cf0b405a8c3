"""The node's encrypted SQLite store: one database, one area per concern.

Rule: nothing above this package writes SQL; everything sensitive passes through
``RowCrypto`` on its way in and out.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from ..crypto import RowCrypto
from .alerts import AlertStore, FeedRow, StoredAlert
from .db import DB_FILE, Database
from .members import Member, MemberStore
from .records import AuditLog, Report, ReportStore, SettingsStore

__all__ = ["DB_FILE", "AlertStore", "FeedRow", "Member", "Report", "Store", "StoredAlert"]

EPOCH_BYTES = 16


class Store:
    """All areas of the store over one database connection."""

    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self.db = db
        self.crypto = crypto
        self.alerts = AlertStore(db, crypto)
        self.members = MemberStore(db, crypto)
        self.reports = ReportStore(db, crypto)
        self.audit = AuditLog(db, crypto)
        self.settings = SettingsStore(db)

    @classmethod
    async def open(cls, data_dir: Path, data_key: bytes) -> Store:
        db = await Database.open(data_dir / DB_FILE)
        store = cls(db, RowCrypto(data_key))
        await store.epoch()
        return store

    async def close(self) -> None:
        await self.db.close()

    async def epoch(self) -> bytes:
        """The feed epoch: changes when the log is reset (a restore from backup)."""
        row = await self.db.fetchone("SELECT value FROM meta WHERE name = 'epoch'")
        if row is not None:
            return bytes(row[0])
        return await self.new_epoch()

    async def new_epoch(self) -> bytes:
        epoch = secrets.token_bytes(EPOCH_BYTES)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO meta (name, value) VALUES ('epoch', ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (epoch,),
            )
        return epoch
