"""This node in the network (``Trust``): the server on the federation port, the syncer and the
trust-list operations the CLI and the admin pages use.

Rule: this module wires federation/ to the node's store; it holds no policy of its
own (that is federation.trust) and no wire format (that is protocol/).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import ipaddress
import logging
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import nacl.signing
from aiohttp import web

from federation.clock import Clock
from federation.connections import ConnectionLimits
from federation.errors import FederationError
from federation.https import HttpsTransport, federation_app
from federation.ingest import PullResult
from federation.listener import GuardedSite
from federation.netkeys import KeyExchange
from federation.replay import ReplayGuard
from federation.server import FederationServer, ServerState, url_prefix
from federation.sync import Syncer
from federation.trust import Peer
from federation.verifier import POOL_WORKERS, Verifier
from federation.workers import STOP_TIMEOUT_S
from protocol.card import parse_card_text, short_auth_string
from protocol.errors import ProtocolError
from protocol.feed import IdEntry
from protocol.pins import sign_pins
from protocol.rotation import VerifiedRotation, sign_rotation

from ..config import Config, parse_hostport
from ..errors import UsageError
from ..keys import tls
from ..keys.slowhash import NetworkKeyRing
from ..store import Store
from .cards import make_card_text
from .moves import MoveHook, owe_move
from .rotation import Courier

log = logging.getLogger(__name__)

# How long a stopping federation port lets a peer's request finish (aiohttp: 60 s).
FEDERATION_SHUTDOWN_S = 1.0
# How often the node looks at its certificate's expiry (it renews 30 days ahead).
CERT_CHECK_INTERVAL_S = 24 * 3600
MAX_PINS_RESPONSE_BYTES = 1024


def _with_bound_port(url: str, bound: int) -> str:
    """``url`` with an ephemeral port 0 (tests: ``--fed 127.0.0.1:0``) replaced by the
    port actually bound; the path (a proxy prefix) is kept."""
    split = urllib.parse.urlsplit(url)
    if not split.netloc.endswith(":0"):
        return url
    return split._replace(netloc=f"{split.netloc[:-2]}:{bound}").geturl()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def peer_status(peer: Peer, stats: dict[str, Any]) -> str:
    """One word for ``peer list``: "ok" only if the last pull failed in nothing and
    refused nothing."""
    if peer.suspended:
        return "suspended"
    if stats["last_error"]:
        return "error"
    if stats["last_sync"] is None:
        return "never synced"
    if stats["refused"]["last_pull"]:
        return "refusing items"
    return "ok"


class Trust:
    def __init__(
        self,
        data_dir: Path,
        config: Config,
        key: nacl.signing.SigningKey,
        data_key: bytes,
        store: Store,
        clock: Clock,
        locked: Any,
        network: NetworkKeyRing,
        *,
        limits: ConnectionLimits | None = None,
    ) -> None:
        self._data_dir = data_dir
        self._limits = limits or ConnectionLimits()
        self.site: GuardedSite | None = None
        # The network blinding keys: handed to each peer after pairing, and passed on
        # to the other peers whenever one brings keys this node did not hold.
        self.network = network
        self.key_exchange = KeyExchange(key, network, clock.now, self._learned_keys)
        self._config = config
        # Whether pulls take area warnings (the node wires its area_warnings setting).
        self.accepts_warnings: Callable[[], bool] = lambda: True
        self._key = key
        self._data_key = data_key
        self._store = store
        self._clock = clock
        self._locked = locked
        # Pulled items are verified in worker processes, one fewer than the cores
        # (federation/verifier.py).
        self.verifier = Verifier(POOL_WORKERS)
        self.transport, self.syncer = self._sync_parts(key)
        # Keys this node rotated away from: they sign the statements still owed.
        self.previous_keys: tuple[nacl.signing.SigningKey, ...] = ()
        self.courier = Courier(
            store.peers, lambda: (self._key, *self.previous_keys), self._transport_for, clock
        )
        self.courier.on_delivered = self._rotation_delivered
        self._courier_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._ssl_ctx: ssl.SSLContext | None = None
        self._pins_stated_at = 0
        self.url = config.public_url
        # Called with the new public URL after this node moved (moves.MoveHook): where
        # members' "we moved" notices are sent from.
        self.on_moved: list[MoveHook] = []
        self._moved_at = 0
        # Called after the trust list changes (the node refreshes its name cache).
        self.on_change: Callable[[], Awaitable[None]] | None = None
        # Called (not awaited) when a pull stored something new (the notifier wakes).
        self.on_stored: Callable[[], None] | None = None

    async def _changed(self) -> None:
        if self.on_change is not None:
            await self.on_change()

    def _transport_for(self, key: nacl.signing.SigningKey) -> HttpsTransport:
        return HttpsTransport(
            key,
            self._clock,
            allow_http=self._config.allow_http,
            socks_proxy=self._config.socks_proxy or None,
        )

    def _sync_parts(self, key: nacl.signing.SigningKey) -> tuple[HttpsTransport, Syncer]:
        transport = self._transport_for(key)
        syncer = Syncer(
            key,
            self._store.alerts,
            self._store.peers,
            transport,
            self._clock,
            self._stored,
            verifier=self.verifier,
        )
        syncer.key_exchange = self.key_exchange
        syncer.accepts_warnings = lambda: self.accepts_warnings()
        syncer.on_received_alerts = self._received_alerts
        return transport, syncer

    async def switch_key(self, key: nacl.signing.SigningKey) -> None:
        """Serve, sign and sync as ``key`` from now on (after a key rotation)."""
        await self.syncer.stop()
        await self.transport.close()
        self._key = key
        self.server_state.key = key
        self.key_exchange.key = key
        self.transport, self.syncer = self._sync_parts(key)
        await self.syncer.start()

    async def start(self) -> None:
        host, port = parse_hostport(self._config.fed, "--fed")
        state = ServerState(
            key=self._key,
            store=self._store.alerts,
            peers=self._store.peers,
            clock=self._clock,
            on_poke=self._poked,
            locked=self._locked,
            nonces=ReplayGuard(self._store.nonces),
            on_rotate=self._rotated,
            on_statement=self._pass_on,
            on_moved=self._peer_moved,
            key_exchange=self.key_exchange,
            prefixes=(url_prefix(self._config.public_url),),
        )
        self.server_state = state
        runner = web.AppRunner(
            federation_app(FederationServer(state)),
            access_log=None,
            shutdown_timeout=FEDERATION_SHUTDOWN_S,
        )
        await runner.setup()
        plain = self._config.allow_http and _is_loopback(host)
        self.renew_certificate()
        ssl_ctx = None if plain else tls.server_context(self._data_dir, self._data_key)
        self._ssl_ctx = ssl_ctx
        site = GuardedSite(runner, host, port, limits=self._limits, ssl_context=ssl_ctx)
        await site.start()
        self.site = site
        self._runner = runner
        bound = runner.addresses[0][1] if runner.addresses else port
        self.url = _with_bound_port(self.url, bound)
        await self.syncer.start()
        self._courier_task = asyncio.get_running_loop().create_task(
            self.courier.run(), name="rotation-courier"
        )

    async def stop(self) -> None:
        if self._courier_task is not None:
            self._courier_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._courier_task, STOP_TIMEOUT_S)
            self._courier_task = None
        await self.syncer.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.transport.close()
        self.verifier.close()

    async def rotate(
        self, old: nacl.signing.SigningKey, new: nacl.signing.SigningKey
    ) -> tuple[list[str], list[dict[str, str]]]:
        """Owe every peer the statement moving ``old`` to ``new`` (durably), switch to
        ``new``, and deliver what can be delivered now: (told, missed). The rest is
        retried by the courier until delivered."""
        statement = sign_rotation(old, new, self._clock.now()).envelope.to_bytes()
        peers = [p.key for p in await self._store.peers.list()]
        await self._store.peers.queue_rotation(peers, statement, self._clock.now())
        if old not in self.previous_keys:
            self.previous_keys = (*self.previous_keys, old)
        await self.switch_key(new)
        told, missed = await self.courier.deliver_due()
        self.courier.wake()  # reschedule for what was missed
        return told, missed

    async def move(self, config: Config) -> dict[str, Any]:
        """Announce that this node is reached at ``config.public_url`` now: owe every
        peer a move statement (node/network/moves.py), deliver what can be delivered
        now, and call the ``on_moved`` hooks. New listen addresses in ``config`` take
        effect at the next start. Raises UsageError."""
        now = self._clock.now()
        self._moved_at = await owe_move(
            self._store.peers, self._key, (config.public_url,), now, self._moved_at
        )
        old_prefix = url_prefix(self._config.public_url)
        self._config, self.url = config, config.public_url
        # Peers not yet told still call the old prefix: answer both.
        self.server_state.prefixes = tuple(
            dict.fromkeys((url_prefix(config.public_url), old_prefix))
        )
        told, missed = await self.courier.deliver_due()
        self.courier.wake()  # the courier retries what was missed
        for hook in self.on_moved:
            try:
                await hook(config.public_url)
            except Exception as exc:  # a notice must never undo a move
                log.error("a move hook failed (%s)", type(exc).__name__)
        return {"url": config.public_url, "told": told, "missed": missed}

    async def _received_alerts(self, count: int, now: int) -> None:
        # Not synced: a second fsync for every stored batch halved a catch-up's
        # writes; a power cut may lose the last few counts, never an alert.
        await self._store.totals.bump("alerts_received", now, count, synced=False)

    async def _peer_moved(self, peer: Peer) -> None:
        """A peer moved: sync with it at its new address at once."""
        self.syncer.wake(peer.key)
        self.syncer.poke(peer.key)

    def _rotation_delivered(self, key: bytes) -> None:
        self.syncer.wake(key)
        self.syncer.poke(key)

    async def _stored(self, source: Peer, news: tuple[IdEntry, ...] | None) -> None:
        self.syncer.poke_all(exclude=source.key, news=news)
        if self.on_stored is not None:
            self.on_stored()

    async def _rotated(self, old: bytes, new: bytes) -> None:
        """A peer moved to a new key: its worker follows, and so does the name cache."""
        await self.syncer.stop_worker(old)
        self.syncer.ensure_worker(new)
        await self._changed()

    async def _pass_on(self, rotation: VerifiedRotation, statement: bytes, source: Peer) -> None:
        """A rotation statement new here: owe it to every other peer (not the one that
        brought it, nor the node that rotated), durably, as our own are owed."""
        moved = {rotation.body.old, rotation.body.new}
        peers = [
            p.key
            for p in await self._store.peers.list()
            if p.entry_id != source.entry_id and not moved.intersection(p.keys)
        ]
        if peers:
            await self._store.peers.queue_rotation(peers, statement, self._clock.now())
            self.courier.wake()

    async def _learned_keys(self, source: bytes) -> None:
        self.syncer.send_keys(exclude=source)

    def network_changed(self) -> None:
        """Our key set changed here (a rotation): hand it to every peer."""
        self.syncer.send_keys()

    async def _poked(self, peer: Peer, news: tuple[IdEntry, ...] | None) -> None:
        self.syncer.wake(peer.key, news)

    async def new_local_item(self, news: Sequence[IdEntry]) -> None:
        """Poke every peer, naming ``news``: all this node added to its feed."""
        self.syncer.poke_all(news=news)

    # --- the TLS key: renewal and announced rollover ------------------------------

    def _utcnow(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self._clock.now(), datetime.UTC)

    def renew_certificate(self, now: datetime.datetime | None = None) -> dict[str, Any]:
        """Reissue the certificate on the same key when it is due at ``now`` (default:
        the clock's now); the pin holds, so no peer has to do anything. The running
        server loads it for new connections."""
        renewed = tls.renew_if_due(self._data_dir, self._data_key, now or self._utcnow())
        if renewed and self._ssl_ctx is not None:
            tls.reload(self._ssl_ctx, self._data_dir, self._data_key)
        if renewed:
            log.info("TLS certificate renewed on the same key")
        return {"renewed": renewed, "expires": int(tls.expires_at(self._data_dir).timestamp())}

    async def announce_pins(self) -> dict[str, Any]:
        """Send every peer a pin statement listing this node's current pins."""
        pins = tls.pins(self._data_dir)
        # Peers apply only a statement newer than the last: two in one second are
        # dated a second apart.
        at = max(self._clock.now(), self._pins_stated_at + 1)
        self._pins_stated_at = at
        statement = sign_pins(self._key, pins, at).envelope.to_bytes()
        told, missed = 0, 0
        for peer in await self._store.peers.list():
            try:
                await self.transport.post(peer, "/pins", statement, MAX_PINS_RESPONSE_BYTES)
                told += 1
            except FederationError as exc:
                missed += 1
                log.warning("peer %s was not told the new TLS pins: %s", peer.short, exc)
        return {"pins": len(pins), "told": told, "missed": missed}

    async def prepare_tls_key(self) -> dict[str, Any]:
        """Make the next TLS key and tell every peer to accept it alongside the current
        one. Switch with ``switch_tls_key`` once the peers have it."""
        tls.prepare_next_key(self._data_dir, self._data_key, self._utcnow())
        return await self.announce_pins()

    async def switch_tls_key(self) -> dict[str, Any]:
        """Serve with the prepared next key, then tell every peer to drop the old pin.
        Raises UsageError if no next key was prepared."""
        try:
            tls.switch_to_next(self._data_dir)
        except FileNotFoundError:
            raise UsageError("no next TLS key was prepared; prepare one first") from None
        if self._ssl_ctx is not None:
            tls.reload(self._ssl_ctx, self._data_dir, self._data_key)
        return await self.announce_pins()

    # --- cards and the trust list ----------------------------------------------

    def card(self) -> str:
        return make_card_text(
            self._config.name, self.url, self._key, tls.pins(self._data_dir), self._clock.now()
        )

    def sas(self, other: bytes) -> str:
        return short_auth_string(bytes(self._key.verify_key), other)

    async def add_peer(
        self, card_text: str, accept: str, share: bool, proxy: str | None
    ) -> dict[str, Any]:
        """Verify a card and add (or refresh) the peer. Raises UsageError."""
        try:
            card = parse_card_text(card_text, self._clock.now())
        except ProtocolError as exc:
            raise UsageError(f"that card cannot be used: {exc}") from None
        if card.key == bytes(self._key.verify_key):
            raise UsageError("that is this node's own card")
        if proxy is not None and not proxy.startswith(("socks5://", "socks5h://")):
            raise UsageError("--proxy must be a socks5:// URL")
        peer = await self._store.peers.add(
            card.key,
            card.body.name,
            card.body.urls,
            card.body.pins,
            accept=accept,
            share=share,
            proxy=proxy,
            now=self._clock.now(),
            pins_at=card.body.created,
        )
        self.syncer.ensure_worker(peer.key)
        # A new peer gets our network keys (and answers with its own) before its
        # first pull; a refreshed one gets them again.
        self.syncer.send_keys(only=peer.key)
        await self._changed()
        return {"key": peer.key.hex(), "name": peer.name, "sas": self.sas(peer.key)}

    async def list_peers(self) -> list[dict[str, Any]]:
        out = []
        for peer, stats in await self._store.peers.list_with_stats():
            status = peer_status(peer, stats)
            out.append(
                {
                    "key": peer.key.hex(),
                    "name": peer.name,
                    "urls": list(peer.urls),
                    "accept": peer.accept,
                    "share": peer.share,
                    "suspended": peer.suspended,
                    "status": status,
                    "sas": self.sas(peer.key),
                    **stats,
                }
            )
        return out

    async def set_peer(self, key_or_name: str, **changes: Any) -> Peer:
        peer = await self._store.peers.find(key_or_name)
        await self._store.peers.set_policy(peer.key, **changes)
        if changes.get("suspended") is False or changes.get("share") is True:
            self.syncer.wake(peer.key)
            self.syncer.poke(peer.key)
        updated = await self._store.peers.get(peer.key)
        assert updated is not None
        return updated

    async def remove_peer(self, key_or_name: str, purge: bool) -> dict[str, Any]:
        peer = await self._store.peers.find(key_or_name)
        await self.syncer.stop_worker(peer.key)
        await self._store.peers.remove(peer.key)
        purged = await self._store.alerts.purge_origin(peer.key) if purge else 0
        remaining = {p.entry_id for p in await self._store.peers.list()}
        self.server_state.limiter.forget(remaining)
        self.server_state.nonces.forget(remaining)
        await self._changed()
        return {"key": peer.key.hex(), "name": peer.name, "purged": purged}

    async def sync_now(self) -> list[dict[str, Any]]:
        results: list[PullResult] = await self.syncer.sync_all()
        return [dataclasses.asdict(r) for r in results]
