"""A hostile peer: a real federation server whose feed serves whatever bytes a test
puts in it (forged, altered, mislabelled), built from the production server code."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import nacl.signing
from aiohttp import web

from federation.clock import SystemClock
from federation.https import federation_app
from federation.replay import ReplayGuard
from federation.server import FederationServer, ServerState
from federation.trust import Peer

EPOCH = b"\x05" * 16


@dataclass(frozen=True)
class Row:
    pos: int
    kind: str
    id: bytes
    origin: bytes
    hops: int
    max_hops: int
    tlp: str
    received_from: bytes | None
    expires: int


class FakeFeed:
    """FeedStore serving test-chosen envelopes under test-chosen ids."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.bodies: dict[bytes, bytes] = {}

    def add(
        self,
        envelope: bytes,
        *,
        origin: bytes,
        kind: str = "a",
        claimed_id: bytes | None = None,
        hops: int = 0,
    ) -> bytes:
        item_id = claimed_id or hashlib.sha256(envelope).digest()
        self.rows.append(
            Row(len(self.rows) + 1, kind, item_id, origin, hops, 6, "GREEN", None, 2**40)
        )
        self.bodies[item_id] = envelope
        return item_id

    async def epoch(self) -> bytes:
        return EPOCH

    async def feed(self, since: int, limit: int) -> Sequence[Row]:
        return [r for r in self.rows if r.pos > since][:limit]

    async def rows_at(self, positions: Sequence[int]) -> Sequence[Row]:
        wanted = set(positions)
        return [r for r in self.rows if r.pos in wanted]

    async def rows_by_id(self, ids: Sequence[bytes]) -> Sequence[Row]:
        wanted = set(ids)
        return [r for r in self.rows if r.id in wanted]

    async def ids_after(self, after: bytes | None, limit: int) -> Sequence[Row]:
        return sorted((r for r in self.rows if r.id > (after or b"")), key=lambda r: r.id)[:limit]

    async def flush(self) -> None:
        pass

    async def last_pos(self) -> int:
        return len(self.rows)

    async def get_envelopes(self, ids: list[bytes], now: int) -> dict[bytes, bytes]:
        return {i: self.bodies[i] for i in ids if i in self.bodies}

    async def known_ids(self, ids: list[bytes]) -> set[bytes]:
        return set()

    async def is_blocked(self, origin: bytes) -> bool:
        return False

    async def count_active(self, origin: bytes, now: int) -> int:
        return 0

    async def count_delivered(self, keys: Sequence[bytes], now: int) -> int:
        return 0

    async def count_unnamed(self, known: Sequence[bytes], now: int) -> int:
        return 0

    async def count_markers(self, keys: Sequence[bytes] | None, now: int) -> int:
        return 0

    async def alert_origins(self, ids: Sequence[bytes]) -> dict[bytes, bytes]:
        return {}

    async def put_batch(self, items: Sequence[object], now: int) -> list[bool]:
        return [False] * len(items)

    async def put_alert(self, *a: object, **k: object) -> bool:
        return False

    async def put_retraction(self, *a: object, **k: object) -> bool:
        return False


class OnePeer:
    """PeerStore that knows exactly one peer (the node under test)."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    async def get(self, key: bytes) -> Peer | None:
        return self.peer if key == self.peer.key else None

    async def list(self) -> Sequence[Peer]:
        return [self.peer]

    async def save_progress(self, *a: object, **k: object) -> None:
        pass

    async def record_error(self, *a: object, **k: object) -> None:
        pass

    async def record_refusals(self, *a: object, **k: object) -> None:
        pass

    async def accept_rotation(
        self, old: bytes, new: bytes, *, rotated_at: int, now: int, min_interval_s: int
    ) -> int | None:
        return None

    async def record_statement(self, *a: object, **k: object) -> bool | None:
        return False

    async def retired_at(self, key: bytes) -> int | None:
        return None

    async def set_pins(self, key: bytes, pins: tuple[bytes, ...], created: int) -> bool:
        return False


async def start_hostile_peer(
    key: nacl.signing.SigningKey, victim: Peer, feed: FakeFeed
) -> tuple[web.AppRunner, str]:
    """Serve ``feed`` over plain HTTP on loopback; returns the runner and its URL."""
    state = ServerState(
        key=key,
        store=feed,
        peers=OnePeer(victim),
        clock=SystemClock(),
        on_poke=_ignore,
        locked=lambda: False,
        nonces=ReplayGuard(),
    )
    runner = web.AppRunner(federation_app(FederationServer(state)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


async def _ignore(peer: Peer, news: object = None) -> None:
    return None
