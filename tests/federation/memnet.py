"""Nodes on the in-memory network, on one fake clock: the real Syncer, server logic,
trust rules and SQLite stores, with no sockets and no real time.

A ``MemNode`` is wired the way node/network/trust.py wires a node (pokes wake the puller,
a stored batch pokes the other peers, a rotation moves the worker), minus HTTPS.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import nacl.signing
import pytest

from federation.clock import SETTLE_TIMEOUT_S, FakeClock
from federation.ingest import PullResult
from federation.memory import MemoryNetwork, MemoryTransport, address
from federation.replay import ReplayGuard
from federation.server import FederationServer, ServerState
from federation.sync import Syncer
from federation.trust import Peer
from node.network.rotation import Courier
from node.store import Store
from protocol.alert import AlertBody, Indicator, VerifiedAlert, coarsen_hour, sign_alert
from protocol.feed import IdEntry
from protocol.retraction import RetractionBody, VerifiedRetraction, sign_retraction
from protocol.rotation import VerifiedRotation, sign_rotation
from tests.federation.fakes import FakeFeed, OnePeer

DAY_S = 86400


def alert_body(
    key: nacl.signing.SigningKey, now: int, text: str, *, hops: int = 2, tlp: str = "GREEN"
) -> AlertBody:
    return AlertBody(
        origin=bytes(key.verify_key),
        created=coarsen_hour(now),
        expires=coarsen_hour(now) + 30 * DAY_S,
        incident=time.strftime("%Y-%m-%d", time.gmtime(now - DAY_S)),
        region="GB",
        categories=("violence",),
        danger=3,
        indicators=(Indicator("phone", secrets.token_bytes(32), bytes(8), 1),),
        description=text,
        lang="en",
        hops=hops,
        tlp=tlp,
        nonce=secrets.token_bytes(16),
    )


@dataclass
class MemNode:
    name: str
    key: nacl.signing.SigningKey
    store: Store
    state: ServerState
    transport: MemoryTransport
    syncer: Syncer
    net: MemNet
    previous: tuple[nacl.signing.SigningKey, ...] = ()

    @property
    def courier(self) -> Courier:
        """Delivers this node's owed rotation statements, as node/peering.py wires it."""
        return Courier(
            self.store.peers,
            lambda: (self.key, *self.previous),
            lambda key: MemoryTransport(key, self.net.clock, self.net.network, self.addr),
            self.net.clock,
        )

    @property
    def addr(self) -> str:
        return address(self.name)

    @property
    def pub(self) -> bytes:
        return bytes(self.key.verify_key)

    async def publish(self, text: str = "alert", *, hops: int = 2, tlp: str = "GREEN") -> bytes:
        now = self.net.clock.now()
        alert = sign_alert(alert_body(self.key, now, text, hops=hops, tlp=tlp), self.key, now)
        await self.store.alerts.put_alert(alert, hops=0, received_from=None, now=now)
        self.syncer.poke_all()
        return alert.id

    async def retract(self, alert_id: bytes, key: nacl.signing.SigningKey | None = None) -> bytes:
        signer = key or self.key
        now = self.net.clock.now()
        body = RetractionBody(
            bytes(signer.verify_key), alert_id, "mistaken", coarsen_hour(now), now + 30 * DAY_S
        )
        retraction = sign_retraction(body, signer, now)
        await self.store.alerts.put_retraction(retraction, hops=0, received_from=None, now=now)
        self.syncer.poke_all()
        return retraction.id

    async def has(self, alert_id: bytes) -> bool:
        return await self.store.alerts.get_alert(alert_id, self.net.clock.now()) is not None

    async def peer(self, other: MemNode) -> Peer:
        found = await self.store.peers.get(other.pub)
        assert found is not None
        return found

    async def pull(self, other: MemNode) -> PullResult:
        return await self.syncer.pull(await self.peer(other))

    async def rotate(self) -> nacl.signing.SigningKey:
        """Move to a new key, owing every peer the statement and delivering what can be
        delivered at once (as node/network/trust.py does)."""
        new = nacl.signing.SigningKey.generate()
        now = self.net.clock.now()
        statement = sign_rotation(self.key, new, now).envelope.to_bytes()
        peers = [p.key for p in await self.store.peers.list()]
        await self.store.peers.queue_rotation(peers, statement, now)
        self.previous = (*self.previous, self.key)
        await self.courier.deliver_due()
        old_syncer = self.syncer
        await old_syncer.stop()
        self.key = self.state.key = new
        self.transport, self.syncer = self.net.sync_parts(self)
        await self.syncer.start()
        return new


def retraction_by(
    key: nacl.signing.SigningKey, alert_id: bytes, now: int, *, days: int = 30
) -> VerifiedRetraction:
    """A retraction of ``alert_id`` signed by ``key``, whoever published the alert."""
    body = RetractionBody(
        bytes(key.verify_key), alert_id, "mistaken", coarsen_hour(now), now + days * DAY_S
    )
    return sign_retraction(body, key, now)


@dataclass
class MemHostile:
    """A peer on the memory network whose feed serves whatever a test puts in it (the
    production server over a ``FakeFeed``): signed items it made or relays, lies included."""

    name: str
    key: nacl.signing.SigningKey
    feed: FakeFeed

    @property
    def addr(self) -> str:
        return address(self.name)

    @property
    def pub(self) -> bytes:
        return bytes(self.key.verify_key)

    def serve(self, item: VerifiedAlert | VerifiedRetraction, *, hops: int = 0) -> bytes:
        """Put ``item`` in the feed under its own id, as relayed ``hops`` times."""
        kind = "r" if isinstance(item, VerifiedRetraction) else "a"
        origin = item.body.origin
        return self.feed.add(
            item.envelope.to_bytes(), origin=origin, kind=kind, claimed_id=item.id, hops=hops
        )


class MemNet:
    """Builds MemNodes on one MemoryNetwork and one FakeClock; closes them all."""

    def __init__(
        self,
        root: Path,
        clock: FakeClock,
        *,
        workers: bool = False,
        open_store: Callable[[Path], Awaitable[Store]] | None = None,
    ) -> None:
        self.root = root
        self.clock = clock
        self.network = MemoryNetwork(clock)
        self.nodes: list[MemNode] = []
        # With workers off, nothing syncs unless a test calls pull(): race orders stay
        # exactly as the test writes them.
        self.workers = workers
        # How each node's store is opened (a simulation of many nodes passes SQLite in
        # memory); by default a real database file in the node's own folder.
        self.open_store = open_store or _open_on_disk

    def sync_parts(self, node: MemNode) -> tuple[MemoryTransport, Syncer]:
        transport = MemoryTransport(node.key, self.clock, self.network, node.addr)

        async def stored(source: Peer, news: tuple[IdEntry, ...] | None) -> None:
            node.syncer.poke_all(exclude=source.key, news=news)

        syncer = Syncer(
            node.key, node.store.alerts, node.store.peers, transport, self.clock, stored
        )
        return transport, syncer

    async def node(self, name: str) -> MemNode:
        store = await self.open_store(self.root / name)
        key = nacl.signing.SigningKey.generate()
        holder: list[MemNode] = []

        async def poked(peer: Peer, news: tuple[IdEntry, ...] | None) -> None:
            holder[0].syncer.wake(peer.key, news)

        async def rotated(old: bytes, new: bytes) -> None:
            await holder[0].syncer.stop_worker(old)
            if self.workers:
                holder[0].syncer.ensure_worker(new)

        async def pass_on(rotation: VerifiedRotation, statement: bytes, source: Peer) -> None:
            # As node/network/trust.py: owed to every other peer, not the rotated node.
            moved = {rotation.body.old, rotation.body.new}
            peers = [
                p.key
                for p in await store.peers.list()
                if p.entry_id != source.entry_id and not moved.intersection(p.keys)
            ]
            await store.peers.queue_rotation(peers, statement, self.clock.now())

        state = ServerState(
            key=key,
            store=store.alerts,
            peers=store.peers,
            clock=self.clock,
            on_poke=poked,
            locked=lambda: False,
            nonces=ReplayGuard(store.nonces),
            on_rotate=rotated,
            on_statement=pass_on,
        )
        node = MemNode(name, key, store, state, None, None, self)  # type: ignore[arg-type]
        holder.append(node)
        node.transport, node.syncer = self.sync_parts(node)
        self.network.attach(node.addr, FederationServer(state))
        self.nodes.append(node)
        return node

    async def hostile(self, name: str, victim: MemNode, accept: str = "relay") -> MemHostile:
        """A hostile peer that ``victim`` trusts (with ``accept``) and pulls from."""
        evil = MemHostile(name, nacl.signing.SigningKey.generate(), FakeFeed())
        state = ServerState(
            key=evil.key,
            store=evil.feed,
            peers=OnePeer(Peer(victim.pub, victim.name, (victim.addr,), (b"\x00" * 32,))),
            clock=self.clock,
            on_poke=_ignore,
            locked=lambda: False,
            nonces=ReplayGuard(),
        )
        self.network.attach(evil.addr, FederationServer(state))
        await self.add_peer(victim, evil, accept)  # type: ignore[arg-type]
        return evil

    async def add_peer(self, owner: MemNode, other: MemNode, accept: str = "relay") -> None:
        await owner.store.peers.add(
            other.pub, other.name, (other.addr,), (b"\x00" * 32,),
            accept=accept, share=True, proxy=None, now=self.clock.now(),
        )  # fmt: skip
        if self.workers:
            owner.syncer.ensure_worker(other.pub)

    async def pair(self, a: MemNode, b: MemNode, accept: str = "relay") -> None:
        await self.add_peer(a, b, accept)
        await self.add_peer(b, a, accept)

    async def close(self) -> None:
        for node in self.nodes:
            await node.syncer.stop()
        for node in self.nodes:
            await node.store.close()


async def _open_on_disk(path: Path) -> Store:
    path.mkdir()
    return await Store.open(path, secrets.token_bytes(32))


async def _ignore(peer: Peer, news: object = None) -> None:
    return None


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def memnet(tmp_path: Path, clock: FakeClock) -> AsyncIterator[MemNet]:
    """Nodes that sync only when a test says so (no background workers)."""
    net = MemNet(tmp_path, clock)
    yield net
    await net.close()


@pytest.fixture
async def livenet(tmp_path: Path, clock: FakeClock) -> AsyncIterator[MemNet]:
    """Nodes with their background workers running, on the fake clock."""
    net = MemNet(tmp_path, clock, workers=True)
    yield net
    await net.close()


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = SETTLE_TIMEOUT_S) -> None:
    """Let the event loop run until ``check`` holds (real SQLite answers from a thread);
    fails after ``timeout_s`` of real time. Fake time does not move."""
    async with asyncio.timeout(timeout_s):
        while not await check():
            await asyncio.sleep(0)
