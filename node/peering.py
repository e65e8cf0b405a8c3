"""Federation inside the node: the server on the federation port, the syncer and the
trust-list operations the CLI and the admin pages use.

Rule: this module wires federation/ to the node's store; it holds no policy of its
own (that is federation.peers) and no wire format (that is protocol/).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nacl.signing
from aiohttp import web

from federation.clock import Clock
from federation.https import HttpsTransport, federation_app
from federation.netkeys import KeyExchange
from federation.peers import Peer
from federation.server import FederationServer, ServerState
from federation.sync import PullResult, Syncer
from protocol.card import parse_card_text, short_auth_string
from protocol.errors import ProtocolError
from protocol.request import NonceWindow

from . import tls
from .blinding import NetworkKeyRing
from .cards import make_card_text
from .config import Config, parse_hostport
from .errors import UsageError
from .store import Store

log = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Peering:
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
    ) -> None:
        self._data_dir = data_dir
        # The network blinding keys: handed to each peer after pairing, and passed on
        # to the other peers whenever one brings keys this node did not hold.
        self.network = network
        self.key_exchange = KeyExchange(key, network, clock.now, self._learned_keys)
        self._config = config
        self._key = key
        self._data_key = data_key
        self._store = store
        self._clock = clock
        self._locked = locked
        self.transport, self.syncer = self._sync_parts(key)
        self._runner: web.AppRunner | None = None
        self.url = config.public_url
        # Called after the trust list changes (the node refreshes its name cache).
        self.on_change: Callable[[], Awaitable[None]] | None = None

    async def _changed(self) -> None:
        if self.on_change is not None:
            await self.on_change()

    def _sync_parts(self, key: nacl.signing.SigningKey) -> tuple[HttpsTransport, Syncer]:
        transport = HttpsTransport(
            key,
            self._clock,
            allow_http=self._config.allow_http,
            socks_proxy=self._config.socks_proxy or None,
        )
        syncer = Syncer(
            key, self._store.alerts, self._store.peers, transport, self._clock, self._stored
        )
        syncer.key_exchange = self.key_exchange
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
            nonces=NonceWindow(),
            on_rotate=self._rotated,
            key_exchange=self.key_exchange,
        )
        self.server_state = state
        runner = web.AppRunner(federation_app(FederationServer(state)), access_log=None)
        await runner.setup()
        plain = self._config.allow_http and _is_loopback(host)
        ssl_ctx = None if plain else tls.server_context(self._data_dir, self._data_key)
        await web.TCPSite(runner, host, port, ssl_context=ssl_ctx).start()
        self._runner = runner
        bound = runner.addresses[0][1] if runner.addresses else port
        if self.url.endswith(":0"):
            self.url = self.url[:-2] + f":{bound}"
        await self.syncer.start()

    async def stop(self) -> None:
        await self.syncer.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.transport.close()

    async def _stored(self, source: Peer) -> None:
        self.syncer.poke_all(exclude=source.key)

    async def _rotated(self, old: bytes, new: bytes) -> None:
        """A peer moved to a new key: its worker follows, and so does the name cache."""
        await self.syncer.stop_worker(old)
        self.syncer.ensure_worker(new)
        await self._changed()

    async def _learned_keys(self, source: bytes) -> None:
        self.syncer.send_keys(exclude=source)

    def network_changed(self) -> None:
        """Our key set changed here (a rotation): hand it to every peer."""
        self.syncer.send_keys()

    async def _poked(self, peer: Peer) -> None:
        self.syncer.wake(peer.key)

    async def new_local_item(self) -> None:
        self.syncer.poke_all()

    # --- cards and the trust list ----------------------------------------------

    def card(self) -> str:
        fingerprint = None if self.url.startswith("http://") else tls.fingerprint(self._data_dir)
        return make_card_text(
            self._config.name, self.url, self._key, fingerprint, self._clock.now()
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
            card.body.tls_fingerprint,
            accept=accept,
            share=share,
            proxy=proxy,
            now=self._clock.now(),
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
            if peer.suspended:
                status = "suspended"
            elif stats["last_error"]:
                status = "error"
            elif stats["last_sync"] is None:
                status = "never synced"
            else:
                status = "ok"
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
        self.server_state.limiter.forget({p.key for p in await self._store.peers.list()})
        await self._changed()
        return {"key": peer.key.hex(), "name": peer.name, "purged": purged}

    async def sync_now(self) -> list[dict[str, Any]]:
        results: list[PullResult] = await self.syncer.sync_all()
        return [dataclasses.asdict(r) for r in results]
