"""Decoded display fields of stored alerts, kept in a bounded cache by alert id.

Rule: an entry is derived only from an alert's envelope, which never changes under
its id (the id is the hash of the envelope), so an entry is never stale; whether an
alert is still shown (active, unexpired, not retracted) is decided by the store's
query on every page, never by the cache. The cache holds at most
``MAX_DISPLAY_ROWS`` entries and ``MAX_DISPLAY_ENVELOPE_BYTES`` of their envelopes,
lives only while the node is unlocked (it belongs to the unlocked ``AlertService``),
and is emptied at its next use after the store reports that it deleted alerts'
content (its ``removals`` count changed), so a retracted or purged alert's text is
not kept.

Why a cache and not a second sealed column of display fields: the description is
most of an alert, so the column would nearly double the store at a million alerts
and need a migration that decodes every stored alert once; and pages ask for the
newest alerts far more often than for old ones, which a cache serves.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from protocol.alert import read_stored_alert

# Decoded alerts kept for pages. Typical entries are ~1.5 KB decoded; the bytes bound
# keeps a store full of maximal alerts (8 KiB of descriptions each) within ~25 MB.
MAX_DISPLAY_ROWS = 2_000
MAX_DISPLAY_ENVELOPE_BYTES = 2 * 1024 * 1024


def alert_fields(envelope: bytes) -> dict[str, Any]:
    """The fields ``alert_json`` shows that come from the alert itself (not from
    which organisations this node can name). Raises a ProtocolError if ``envelope``
    is not an alert."""
    body = read_stored_alert(envelope)
    return {
        "created": body.created,
        "expires": body.expires,
        "incident": body.incident,
        "region": body.region,
        "categories": list(body.categories),
        "danger": body.danger,
        "description": body.description,
        "lang": body.lang,
        "descriptions": body.descriptions(),
        "hops": body.hops,
        "tlp": body.tlp,
        "partner_checks": body.partner_checks,
        "indicators": [i.kind for i in body.indicators],
        "supersedes": body.supersedes.hex() if body.supersedes else None,
    }


class DisplayCache:
    """Least-recently-used ``alert_fields`` by alert id, bounded in rows and bytes.

    Callers get a fresh outer dict each time (they add the names), but the lists
    and dicts inside are shared: treat them as read-only.
    """

    def __init__(
        self, max_rows: int = MAX_DISPLAY_ROWS, max_bytes: int = MAX_DISPLAY_ENVELOPE_BYTES
    ) -> None:
        self._max_rows = max_rows
        self._max_bytes = max_bytes
        self._rows: OrderedDict[bytes, tuple[int, dict[str, Any]]] = OrderedDict()
        self._bytes = 0
        self._removals = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def fields(self, alert_id: bytes, envelope: bytes, removals: int) -> dict[str, Any]:
        """``alert_fields(envelope)``, decoded at most once while it stays cached;
        ``removals`` is the store's count of deletions (every entry goes when it moves)."""
        if removals != self._removals:
            self.forget()
            self._removals = removals
        entry = self._rows.get(alert_id)
        if entry is not None:
            self._rows.move_to_end(alert_id)
            self.hits += 1
            return dict(entry[1])
        self.misses += 1
        fields = alert_fields(envelope)
        if len(envelope) <= self._max_bytes:
            self._rows[alert_id] = (len(envelope), fields)
            self._bytes += len(envelope)
            while len(self._rows) > self._max_rows or self._bytes > self._max_bytes:
                _, (size, _) = self._rows.popitem(last=False)
                self._bytes -= size
        return dict(fields)

    def forget(self) -> None:
        """Drop every entry (the store deleted alerts)."""
        self._rows.clear()
        self._bytes = 0
