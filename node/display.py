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
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from protocol.alert import read_stored_alert
from protocol.warning import WARNING_EXT, warning_kind

K = TypeVar("K")
V = TypeVar("V")

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
        # The kind of an area warning (police, immigration, app-hunt, area), else null.
        "warning": warning_kind(body.ext.get(WARNING_EXT)),
    }


class BoundedCache(Generic[K, V]):
    """Least-recently-used values, bounded in entries and in total size (each entry's
    size given when it is put), emptied when the ``generation`` callers pass changes
    (for alerts: the store's ``removals`` count)."""

    def __init__(self, max_rows: int, max_size: int) -> None:
        self._max_rows = max_rows
        self._max_size = max_size
        self._rows: OrderedDict[K, tuple[int, V]] = OrderedDict()
        self._size = 0
        self._generation = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: K, generation: int) -> V | None:
        if generation != self._generation:
            self.forget()
            self._generation = generation
        entry = self._rows.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._rows.move_to_end(key)
        self.hits += 1
        return entry[1]

    def put(self, key: K, value: V, size: int) -> None:
        if size > self._max_size or key in self._rows:
            return
        self._rows[key] = (size, value)
        self._size += size
        while len(self._rows) > self._max_rows or self._size > self._max_size:
            _, (dropped, _) = self._rows.popitem(last=False)
            self._size -= dropped

    def forget(self) -> None:
        """Drop every entry."""
        self._rows.clear()
        self._size = 0


class DisplayCache(BoundedCache[bytes, dict[str, Any]]):
    """``alert_fields`` by alert id, bounded in rows and in envelope bytes.

    Callers get a fresh outer dict each time (they add the names), but the lists
    and dicts inside are shared: treat them as read-only.
    """

    def __init__(
        self, max_rows: int = MAX_DISPLAY_ROWS, max_bytes: int = MAX_DISPLAY_ENVELOPE_BYTES
    ) -> None:
        super().__init__(max_rows, max_bytes)

    def fields(
        self, alert_id: bytes, envelope: Callable[[], bytes], removals: int
    ) -> dict[str, Any]:
        """``alert_fields(envelope())``, opened and decoded at most once while it stays
        cached; ``removals`` is the store's count of deletions (every entry goes when it
        moves)."""
        fields = self.get(alert_id, removals)
        if fields is None:
            data = envelope()
            fields = alert_fields(data)
            self.put(alert_id, fields, len(data))
        return dict(fields)
