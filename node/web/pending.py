"""Receipts waiting to be shown once, and the limit on receipt checks (node/web/receipts.py).

Rule: a waiting receipt lives in memory only, under its session's id, until that
session's next look at "My reports" or ``PENDING_RECEIPT_S``, whichever comes first;
at most ``MAX_PENDING_RECEIPTS`` wait at once (the oldest goes first). Nothing here
is ever written anywhere.
"""

from __future__ import annotations

from collections import OrderedDict

from .. import receipts
from .ratelimit import RateLimit

# A receipt waits this long for its member's next look at "My reports", then is gone.
PENDING_RECEIPT_S = 15 * 60
MAX_PENDING_RECEIPTS = 1000
RECEIPT_CHECKS_PER_CLIENT = 30
RECEIPT_CHECK_WINDOW_S = 15 * 60


class ReceiptDesk:
    """Receipts waiting to be shown once (by session id, in memory only), and the
    per-client limit on checks."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, tuple[int, receipts.Issued]] = OrderedDict()
        self.checks = RateLimit(RECEIPT_CHECKS_PER_CLIENT, RECEIPT_CHECK_WINDOW_S)

    def hold(self, sid: str, issued: receipts.Issued, now: int) -> None:
        self._pending[sid] = (now + PENDING_RECEIPT_S, issued)
        self._pending.move_to_end(sid)
        while len(self._pending) > MAX_PENDING_RECEIPTS:
            self._pending.popitem(last=False)

    def take(self, sid: str, now: int) -> receipts.Issued | None:
        found = self._pending.pop(sid, None)
        if found is None or found[0] < now:
            return None
        return found[1]

    def __len__(self) -> int:
        return len(self._pending)
