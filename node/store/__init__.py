"""The node's encrypted SQLite store: one database, one area per concern.

Rule: nothing above this package writes SQL; everything sensitive passes through
``RowCrypto`` on its way in and out.
"""

from __future__ import annotations

from pathlib import Path

from ..keys.crypto import RowCrypto
from .alerts import AlertStore, StoredAlert
from .db import DB_FILE, Database
from .feed import FeedRow
from .members import Member, MemberStore
from .nonces import NonceStore
from .notify import NotifyStore
from .partners import PartnerStore
from .peers import PeerStore
from .records import AuditLog, Report, ReportStore, SettingsStore
from .regions import RegionIndex
from .sms import SmsStore
from .totals import TotalsStore
from .voice import FeedbackStore, PollStore
from .vouches import VouchStore
from .webhooks import WebhookQueue

__all__ = ["DB_FILE", "AlertStore", "FeedRow", "Member", "Report", "Store", "StoredAlert"]


class Store:
    """All areas of the store over one database connection."""

    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self.db = db
        self.crypto = crypto
        self.alerts = AlertStore(db, crypto)
        self.members = MemberStore(db, crypto)
        self.vouches = VouchStore(db, crypto)
        self.reports = ReportStore(db, crypto)
        self.audit = AuditLog(db, crypto)
        self.settings = SettingsStore(db, crypto)
        self.peers = PeerStore(db, crypto)
        self.nonces = NonceStore(db)
        self.regions = RegionIndex(db, crypto, lambda: self.alerts.changes)
        self.notify = NotifyStore(db, crypto)
        self.partners = PartnerStore(db, crypto)
        self.sms = SmsStore(db, crypto)
        self.webhooks = WebhookQueue(db, crypto)
        self.totals = TotalsStore(db)
        self.feedback = FeedbackStore(db, crypto)
        self.polls = PollStore(db, crypto)

    @classmethod
    async def open(cls, data_dir: Path, data_key: bytes) -> Store:
        crypto = RowCrypto(data_key)
        db = await Database.open(data_dir / DB_FILE, crypto)
        store = cls(db, crypto)
        await store.epoch()
        return store

    async def close(self) -> None:
        await self.db.close()

    async def epoch(self) -> bytes:
        return await self.alerts.epoch()
