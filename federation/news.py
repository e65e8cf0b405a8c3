"""News a poke names (docs/protocol.md section 10, "A poke that names its news").

Rule: a poke names entries only when they are *all* the poker added to its feed since
its last poke to that peer; anything it cannot name (too many, a failed poke, a change
made elsewhere) makes its news unknown, and a poke with unknown news names nothing,
so the receiver pulls as it always did. A receiver skips the pull a poke asks for
only when it holds every entry named (after the bodies another pull is fetching have
landed), taking any shorter path they offer on the way; the pull on its timer still
comes, so a skipped pull delays nothing past it.
"""

from __future__ import annotations

from collections.abc import Iterable

from protocol.feed import IdEntry


class News:
    """Entries added since some moment, by id in the order added (a lowered hop count
    replaces the entry), or unknown: more than ``limit``, or a change nobody named."""

    __slots__ = ("_entries", "_limit")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._entries: dict[bytes, IdEntry] | None = {}

    def add(self, entries: Iterable[IdEntry] | None) -> None:
        """Fold ``entries`` in; None: something changed that has no name here."""
        if self._entries is None:
            return
        if entries is None:
            self._entries = None
            return
        for entry in entries:
            self._entries.pop(entry.id, None)
            self._entries[entry.id] = entry
        if len(self._entries) > self._limit:
            self._entries = None

    @property
    def empty(self) -> bool:
        """Known to hold nothing: no peer has anything to hear of."""
        return self._entries is not None and not self._entries

    def named(self) -> tuple[IdEntry, ...] | None:
        """The entries, or None when unknown or empty (a poke names 1 or more)."""
        if not self._entries:
            return None
        return tuple(self._entries.values())
