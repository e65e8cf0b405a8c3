"""What federation needs from storage, as Protocols that node/ implements.

Rule: federation/ never imports node/; it is handed objects with these shapes. A
peer is named by its key on the wire and by its ``entry_id`` for everything that must
outlive a key rotation (rate limits, the replay window, rotation limits).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from protocol.alert import VerifiedAlert
from protocol.retraction import VerifiedRetraction

from .trust import Entry, HeldLike, Peer


class FeedRowLike(Entry, Protocol):
    @property
    def pos(self) -> int: ...
    @property
    def id(self) -> bytes: ...


class FeedStore(Protocol):
    """The node's alerts as the changes feed sees them."""

    async def epoch(self) -> bytes: ...
    async def feed(self, since: int, limit: int) -> Sequence[FeedRowLike]: ...
    async def rows_at(self, positions: Sequence[int]) -> Sequence[FeedRowLike]: ...
    async def rows_by_id(self, ids: Sequence[bytes]) -> Sequence[FeedRowLike]: ...
    async def ids_after(self, after: bytes | None, limit: int) -> Sequence[FeedRowLike]: ...
    async def last_pos(self) -> int: ...
    async def flush(self) -> None:
        """Take every write so far to the disk. Called after feed positions are read
        and before they are served (``/changes``, ``/ids``): a position that a power
        cut could take back would be given again to another entry, which a peer whose
        cursor passed it never reads."""
        ...

    async def get_envelopes(self, ids: list[bytes], now: int) -> dict[bytes, bytes]: ...
    async def known_ids(self, ids: list[bytes]) -> set[bytes]: ...
    async def is_blocked(self, origin: bytes) -> bool: ...
    async def count_active(self, origin: bytes, now: int) -> int:
        """Active alerts from ``origin``."""
        ...

    async def count_delivered(self, keys: Sequence[bytes], now: int) -> int:
        """Active alerts a peer delivered under any of ``keys``."""
        ...

    async def count_unnamed(self, known: Sequence[bytes], now: int) -> int:
        """Active alerts peers delivered whose origin is none of ``known``."""
        ...

    async def count_markers(self, keys: Sequence[bytes] | None, now: int) -> int:
        """Unexpired retraction markers (retractions of alerts not held): all, or those a
        peer delivered under any of ``keys``."""
        ...

    async def alert_origins(self, ids: Sequence[bytes]) -> dict[bytes, bytes]:
        """The origin of each alert among ``ids`` held here, in any state."""
        ...

    async def held_hops(self, ids: Sequence[bytes], now: int) -> Mapping[bytes, HeldLike]:
        """Origin, hop count, hop limit and label of each active, unexpired alert among
        ``ids`` held here (no tombstones, nothing expired)."""
        ...

    async def lower_hops(self, lowered: Sequence[tuple[bytes, int]], now: int) -> list[bytes]:
        """Lower each (alert id, hop count) held at a higher count, active and unexpired
        alerts only, moving each to a new feed position; the ids lowered."""
        ...

    async def put_batch(
        self,
        items: Sequence[tuple[VerifiedAlert | VerifiedRetraction, int, bytes | None]],
        now: int,
        *,
        synced: bool = True,
    ) -> list[bool]:
        """Store verified items in one transaction; per item, whether it was new.
        ``synced=False``: without waiting for the disk (a pull's batches, made durable
        by the synced cursor save that follows them)."""
        ...


class NonceJournal(Protocol):
    """Where the replay windows are kept across restarts (federation/replay.py)."""

    async def load_nonces(self, since: int) -> Sequence[tuple[int, bytes, int, int]]:
        """(entry id, nonce, timestamp, until) of every nonce recorded with a
        timestamp at or after ``since``, in order of ``until``."""
        ...

    async def save_nonces(
        self, rows: Sequence[tuple[int, bytes, int, int]], forget_before: int
    ) -> None:
        """Record ``rows`` (returns once they would survive the process stopping or
        crashing) and drop nonces whose timestamp is before ``forget_before``."""
        ...


class PeerStore(Protocol):
    """The trust list as federation reads and updates it."""

    async def get(self, key: bytes) -> Peer | None: ...
    async def list(self) -> Sequence[Peer]: ...
    async def save_progress(
        self,
        key: bytes,
        *,
        epoch: bytes,
        cursor: int,
        received: int,
        lag: int | None,
        now: int,
        synced: bool = True,
    ) -> None:
        """After a pull: its epoch and cursor, what it stored, how far behind the head
        it ended (None: as the last whole pull found). ``synced=False`` when the cursor
        did not move (a pull of what a poke named): the next whole pull fetches again
        what a power cut lost, and ``FeedStore.flush`` takes it to the disk before
        any of its feed positions is served."""
        ...

    async def record_error(self, key: bytes, code: str, message: str, now: int) -> None:
        """The last pull from ``key`` failed with ``code`` (errors.CODES)."""
        ...

    async def record_refusals(self, key: bytes, count: int, code: str | None, now: int) -> None:
        """A pull from ``key`` ended having refused ``count`` items, the last with ``code``."""
        ...

    async def accept_rotation(
        self, old: bytes, new: bytes, *, rotated_at: int, now: int, min_interval_s: int
    ) -> int | None:
        """Move the entry whose key is ``old`` to ``new`` (remembering ``old`` as a
        previous key from ``rotated_at``), unless that entry took a rotation less than
        ``min_interval_s`` before ``now``: None when moved, else when (this node's
        clock) it took the last one (``now`` if no entry has ``old`` any more). Check
        and move are one transaction."""
        ...

    async def retired_at(self, key: bytes) -> int | None:
        """When ``key``'s node rotated away from it: a peer's statement or a relayed one."""
        ...

    async def record_statement(
        self,
        old: bytes,
        new: bytes,
        rotated_at: int,
        statement: bytes,
        *,
        via: int,
        cap: int | None,
    ) -> bool | None:
        """Remember a verified rotation statement, once per ``old`` key, charged to the
        trust-list entry ``via`` that brought it: True if it is new here, False if a
        statement for ``old`` was known, None (nothing kept) if ``via`` already has
        ``cap`` statements charged to it (None: no cap)."""
        ...

    async def set_pins(self, key: bytes, pins: tuple[bytes, ...], created: int) -> bool: ...

    async def set_urls(self, key: bytes, urls: tuple[str, ...], created: int) -> bool:
        """Replace a peer's federation URLs from a move statement dated ``created``;
        False (nothing changed) if a move at least as recent was applied already."""
        ...
