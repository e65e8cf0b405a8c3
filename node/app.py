"""The composition root: builds a node from its data directory and wires its parts.

Rule: this is the only module that knows every component; each component receives
exactly what it uses. A node is either ``Locked`` (nothing decrypted, the store
closed; the web port answers "locked", the federation port is closed) or
``Unlocked`` (the data key in memory only, the store open, the services built): two
types, never one object with optional parts. Every background task is started here,
through ``Jobs``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import gc
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.signing
from aiohttp import web

from federation.clock import Clock, SystemClock
from federation.connections import ConnectionLimits
from federation.listener import LISTEN_BACKLOG, GuardedSite
from protocol.indicators import NetworkKey

from . import config as config_mod
from .config import Config
from .errors import AlreadyRunning, DuressPassphrase, NodeError, UsageError, WrongPassphrase
from .errors import Locked as LockedError
from .keys import keystore
from .keys.slowhash import NetworkKeyRing, SlowHashPool
from .network.pairing import PairingMode
from .network.trust import CERT_CHECK_INTERVAL_S, Trust
from .notify.outbox import Notifier
from .ops import backup, upkeep
from .ops.jobs import RETENTION_INTERVAL_S, Jobs
from .overrides import Overrides
from .partners import run_webhooks
from .service import AlertService, organisation_names
from .settings import Settings, region_defaults
from .store import Store
from .texts import OrgTexts, texts_from

log = logging.getLogger(__name__)

LOCK_FILE = "lock"
CONTROL_SOCKET = "control.sock"
MAX_SOCKET_PATH = 100
WIPE_STOP_S = 0.5
# A stop never waits longer than this for any one part (a hung peer, a slow job).
STOP_PART_S = 5.0
# How long a stopping listener lets a request in flight finish (aiohttp's default: 60 s).
LISTENER_SHUTDOWN_S = 1.0
# The web port's deadlines and caps (docs/admin-guide.md, "Connections and open
# files"). Behind a reverse proxy or an onion service every member comes from one
# address, so the per-address cap counts only requests in progress there: a waiting
# connection is pushed out by a new one from the same address.
WEB_LIMITS = ConnectionLimits(max_connections=512, max_per_address=64)
# The federation port's (peers open at most 4 connections each).
FEDERATION_LIMITS = ConnectionLimits()
# Connections a node opens to each peer at most (federation.https: limit_per_host).
PEER_CONNECTIONS = 4
# Open files besides connections: the database and its WAL and shared memory, the
# lock, the control socket and its clients, logging, zeroconf, Python itself.
SPARE_FILES = 64


def open_file_budget(peers: int) -> int:
    """The open-file limit (systemd's LimitNOFILE) a node with ``peers`` peers needs:
    both ports' caps, one accept burst on each (the event loop accepts up to the
    listen backlog before any new connection is counted against a cap), the
    connections to peers, and the rest."""
    ports = (WEB_LIMITS, FEDERATION_LIMITS)
    caps = sum(limits.max_connections + LISTEN_BACKLOG for limits in ports)
    return caps + PEER_CONNECTIONS * peers + SPARE_FILES


@dataclass(frozen=True, slots=True)
class NodeKeys:
    """The secrets an unlocked node holds in memory, and nowhere else."""

    data_key: bytes
    signing: nacl.signing.SigningKey
    # Keys this node signed with before a rotation: kept to retract its older alerts.
    previous: tuple[nacl.signing.SigningKey, ...] = ()


@dataclass(frozen=True, slots=True)
class Locked:
    """A node waiting for its passphrase: it holds nothing decrypted."""


@dataclass(frozen=True, slots=True)
class Unlocked:
    """What an unlocked node has: the open store, its services and its settings."""

    store: Store
    alerts: AlertService
    settings: Settings
    trust: Trust
    keys: NodeKeys
    notifier: Notifier
    texts: OrgTexts = dataclasses.field(default_factory=OrgTexts)


class Node:
    """One node: its data directory, its listeners and its state (locked or unlocked)."""

    def __init__(
        self,
        data_dir: Path,
        config: Config,
        clock: Clock | None = None,
        *,
        web_limits: ConnectionLimits = WEB_LIMITS,
        fed_limits: ConnectionLimits = FEDERATION_LIMITS,
    ) -> None:
        self.data_dir = data_dir
        self.config = config
        self.clock = clock or SystemClock()
        self.web_limits = web_limits
        self.fed_limits = fed_limits
        self.web_site: GuardedSite | None = None
        self.hashes = SlowHashPool(clock=self.clock)
        self.jobs = Jobs(self.clock)
        self.stopped = asyncio.Event()
        self.web_url = ""
        self._state: Locked | Unlocked = Locked()
        self._lock_fd: int | None = None
        self._runners: list[web.AppRunner] = []
        self._unlock_lock = asyncio.Lock()
        self._names: dict[bytes, str] = {}
        # Wiped by the duress passphrase: the node stays up, locked, and answers every
        # passphrase as a wrong one (after the same slow work).
        self._wiped = False
        self._organisations: dict[bytes, bytes] = {}
        self.pairing = PairingMode(self)
        self.overrides = Overrides(data_dir)

    # --- state ----------------------------------------------------------------

    @property
    def locked(self) -> bool:
        return isinstance(self._state, Locked)

    @property
    def name(self) -> str:
        """The organisation's name (``node.json``)."""
        return self.config.name

    @property
    def has_passphrase(self) -> bool:
        """Whether the key store opens with a passphrase (not a key file)."""
        return keystore.mode(self.data_dir) == "passphrase"

    async def passphrase_opens(self, passphrase: str) -> bool:
        """Whether ``passphrase`` opens the key store; checked in the slow-hash pool.

        The duress passphrase wipes the node and is answered False, like a wrong one."""
        try:
            await self._open_key_store(passphrase)
        except NodeError:
            return False
        return True

    async def _open_key_store(self, passphrase: str | None) -> keystore.OpenedKeys:
        """``keystore.unlock`` in the slow-hash pool. The duress passphrase wipes the
        node (``_duress_wipe``) and is then answered exactly as a wrong passphrase.

        Raises WrongPassphrase, UsageError, NotANode."""
        if self._wiped:
            await self.hashes.run(keystore.spend_like_a_wrong_guess, passphrase)
            raise WrongPassphrase(keystore.WRONG_PASSPHRASE_MESSAGE)
        try:
            return await self.hashes.run(keystore.unlock, self.data_dir, passphrase)
        except DuressPassphrase:
            await self._duress_wipe()
            raise WrongPassphrase(keystore.WRONG_PASSPHRASE_MESSAGE) from None

    def unlocked(self) -> Unlocked:
        """The unlocked node's parts, by name. Raises errors.Locked."""
        state = self._state
        if not isinstance(state, Unlocked):
            raise LockedError("the node is locked; unlock it with 'alertnode unlock'")
        return state

    # --- lifecycle ------------------------------------------------------------

    def acquire_lock(self) -> None:
        """Refuse a second ``run`` on the same data directory. Raises AlreadyRunning."""
        fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(f"a node is already running on {self.data_dir}") from None
        self._lock_fd = fd

    async def start(self, passphrase: str | None = None) -> None:
        """Bind the control socket and web port; unlock if a key is at hand."""
        self.acquire_lock()
        from .commands.control import control_app
        from .web import web_app

        sock = self.data_dir / CONTROL_SOCKET
        if len(str(sock)) > MAX_SOCKET_PATH:
            raise UsageError("the data directory's path is too long for a control socket")
        sock.unlink(missing_ok=True)
        runner = web.AppRunner(
            control_app(self), access_log=None, shutdown_timeout=LISTENER_SHUTDOWN_S
        )
        await runner.setup()
        old_umask = os.umask(0o177)
        try:
            await web.UnixSite(runner, str(sock)).start()
        finally:
            os.umask(old_umask)
        os.chmod(sock, 0o600)
        self._runners.append(runner)

        host, port = config_mod.parse_hostport(self.config.web, "--web")
        proxies = config_mod.parse_proxies(self.config.trusted_proxies, "trusted_proxies")
        runner = web.AppRunner(
            web_app(self, proxies, self.overrides),
            access_log=None,
            shutdown_timeout=LISTENER_SHUTDOWN_S,
        )
        await runner.setup()
        site = GuardedSite(runner, host, port, limits=self.web_limits)
        await site.start()
        self.web_site = site
        self._runners.append(runner)
        bound = runner.addresses[0] if runner.addresses else (host, port)
        self.web_url = f"http://{host if ':' not in host else f'[{host}]'}:{bound[1]}/"

        if passphrase is not None or keystore.mode(self.data_dir) == "keyfile":
            await self.unlock(passphrase)

    async def unlock(self, passphrase: str | None) -> None:
        """Open the key store and the store. Raises WrongPassphrase, UsageError."""
        async with self._unlock_lock:
            if not self.locked:
                return
            opened = await self._open_key_store(passphrase)
            keys = NodeKeys(opened.data_key, opened.signing_key, tuple(opened.previous))
            network = self._network_ring(opened.data_key, opened.network)
            store = await Store.open(self.data_dir, keys.data_key)
            if self.config.region:
                # An earlier alertnode kept the region in node.json, in clear: it
                # moves into the sealed settings, once, and leaves node.json.
                await store.settings.put_missing(region_defaults(self.config.region))
                self.config = dataclasses.replace(self.config, region="")
                config_mod.save(self.data_dir, self.config)
            stored = await store.settings.all()
            settings = Settings(stored)
            alerts = AlertService(
                store, keys.signing, self.clock, self.hashes, settings, self.peer_names, network,
                organisations=self.organisations,
            )  # fmt: skip
            alerts.set_keys(keys.signing, keys.previous)
            trust = Trust(
                self.data_dir, self.config, keys.signing, keys.data_key, store, self.clock,
                lambda: self.locked, network, limits=self.fed_limits,
            )  # fmt: skip
            trust.on_change = self.refresh_peer_names
            # A catch-up's verification waits while members' slow hashes run.
            trust.verifier.wait_turn = self.hashes.quiet
            trust.accepts_warnings = lambda: bool(settings["area_warnings"])
            trust.previous_keys = keys.previous  # they sign rotation statements still owed
            # The federation port answers "locked" until the state below is set, and
            # nothing sees an Unlocked whose parts are not yet started.
            await trust.start()
            notifier = Notifier(store.notify, store.alerts, self.clock, self._texts)
            self._state = Unlocked(
                store, alerts, settings, trust, keys, notifier, texts_from(stored)
            )
            await self.refresh_peer_names()
            alerts.on_new_item(trust.new_local_item)
            # New alerts, published here or pulled from a peer, wake the notifier.
            alerts.on_new_item(notifier.woken)
            trust.on_stored = notifier.wake
            # 'alertnode move' tells subscribers, in the neutral editable text "moved".
            trust.on_moved.append(lambda url: self._moved_notice(notifier))
            self.jobs.supervise("notify", notifier.run)
            self.jobs.supervise("partner-webhooks", lambda: run_webhooks(self, self.clock))
            self.jobs.every("retention", RETENTION_INTERVAL_S, self.run_retention)
            self.jobs.every("certificate", CERT_CHECK_INTERVAL_S, self._renew_certificate)
            # What start-up made lives as long as the node: it leaves every later full
            # collection, which then scans only what came since (a young collection
            # first, so no start-up garbage is kept). Undone in stop().
            gc.collect(1)
            gc.freeze()
            log.info("node unlocked")

    def _texts(self) -> OrgTexts:
        return self.unlocked().texts

    def _network_ring(self, data_key: bytes, held: tuple[NetworkKey, ...]) -> NetworkKeyRing:
        """The ring of network blinding keys, sealed to keys.bin on every change; a key
        store from before network keys gets its first key here (a network of one)."""

        def persist(keys: tuple[NetworkKey, ...]) -> None:
            keystore.save_network_keys(self.data_dir, data_key, keys)

        ring = NetworkKeyRing(held, persist)
        if not held:
            ring.add([keystore.new_network_key()])
        return ring

    async def rotate_network_key(self) -> dict[str, Any]:
        """Make a new network blinding key (one epoch up) and hand it to every peer.

        New alerts use it at once; checks keep trying older keys while unexpired
        alerts carry them. Raises Locked."""
        state = self.unlocked()
        key = state.trust.network.rotate(os.urandom(32))
        state.trust.network_changed()
        log.info("rotated the network blinding key")
        return {"key_id": key.key_id.hex(), "epoch": key.epoch}

    async def stop(self) -> None:
        """Stop everything; each part gets at most ``STOP_PART_S``."""
        await self.jobs.stop(STOP_PART_S)
        state, self._state = self._state, Locked()
        if isinstance(state, Unlocked):
            state.notifier.close()
            await _bounded(state.trust.stop(), STOP_PART_S, "federation")
        for runner in reversed(self._runners):
            await _bounded(runner.cleanup(), STOP_PART_S, "listener")
        self._runners.clear()
        if isinstance(state, Unlocked):
            with contextlib.suppress(Exception):  # a count is not worth a failed stop
                await state.alerts.flush_counts()
            await state.store.close()
            gc.unfreeze()  # what unlock froze may go now
        self.hashes.close()
        if self._lock_fd is not None:
            # Only the holder of the lock owns the socket; a refused second run must
            # not remove the running node's socket.
            (self.data_dir / CONTROL_SOCKET).unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = None
        self.stopped.set()

    async def wipe(self) -> dict[str, Any]:
        """Panic wipe (node.ops.wipe): the wrapped key first, then stop, then every file.

        The node stops afterwards. Used by ``alertnode wipe`` and the admin page.
        """
        started = time.monotonic()
        files = await self._destroy(announce=True)
        self.stopped.set()
        return {"wiped": True, "files": files, "seconds": round(time.monotonic() - started, 3)}

    async def _duress_wipe(self) -> None:
        """The duress passphrase was given: wipe exactly as ``wipe`` does, but stay up,
        locked, so that nothing tells it from a wrong passphrase: no log line, no stop,
        and every later passphrase is wrong."""
        self._wiped = True
        await self._destroy(announce=False)

    async def _destroy(self, *, announce: bool) -> int:
        """The panic wipe's steps (node.ops.wipe); the node is Locked afterwards."""
        from .ops import wipe

        files = wipe.destroy_keys(self.data_dir)
        if announce:
            log.warning("panic wipe: key store destroyed")
        state, self._state = self._state, Locked()
        # Stop writers before the database goes; an in-flight request may wait on
        # them, but never longer than this.
        await _bounded(self.jobs.stop(WIPE_STOP_S), WIPE_STOP_S, "jobs")
        if isinstance(state, Unlocked):
            state.notifier.close()
            await _bounded(state.trust.stop(), WIPE_STOP_S, "federation")
            # No checkpoint: the WAL is about to be overwritten, not merged.
            await _bounded(state.store.db.close(checkpoint=False), WIPE_STOP_S, "store")
            # What unlock froze, the unlocked state among it, is collected now, not at
            # some later full collection.
            gc.unfreeze()
            gc.collect()
        return files + wipe.destroy_rest(self.data_dir)

    # --- operations that need the node's secrets ---------------------------------

    async def rotate_key(self) -> dict[str, Any]:
        """Tell every peer, then sign, serve and sync as a new key. Raises Locked."""
        state = self.unlocked()
        old = state.keys.signing
        new = nacl.signing.SigningKey.generate()
        # The new key is saved first: a statement is owed to peers only for a key the
        # node is sure to hold; peers not told now are told by the courier later.
        keystore.rotate_signing_key(self.data_dir, state.keys.data_key, new)
        self.config = dataclasses.replace(self.config, key=bytes(new.verify_key).hex())
        config_mod.save(self.data_dir, self.config)
        keys = NodeKeys(state.keys.data_key, new, (*state.keys.previous, old))
        state.alerts.set_keys(new, keys.previous)
        self._state = dataclasses.replace(state, keys=keys)
        state.trust.previous_keys = keys.previous
        told, missed = await state.trust.rotate(old, new)
        await self.refresh_peer_names()
        owed = await state.store.peers.outbox_size()
        log.info("rotated the node key; %d peer(s) told, %d not yet", len(told), len(missed))
        card = state.trust.card()
        return {"key": self.config.key, "told": told, "missed": missed, "owed": owed, "card": card}

    async def create_backup(self, out: Path) -> dict[str, Any]:
        """An encrypted online backup to ``out``. Raises Locked, UsageError."""
        state = self.unlocked()
        return await asyncio.to_thread(
            backup.create, self.data_dir, state.keys.data_key, out, self.clock.now()
        )

    async def change_passphrase(self, old: str | None, new: str) -> None:
        """Rewrap the data key under ``new``. Raises Locked, UsageError, WrongPassphrase."""
        self.unlocked()
        if old is None and keystore.mode(self.data_dir) == "passphrase":
            raise UsageError("give the current passphrase with --old-file F")
        # Argon2id derivations: off the event loop, through the bounded pool.
        try:
            await self.hashes.run(keystore.rewrap, self.data_dir, old, new)
        except DuressPassphrase:
            await self._duress_wipe()
            raise WrongPassphrase(keystore.WRONG_PASSPHRASE_MESSAGE) from None

    async def set_duress_passphrase(self, passphrase: str | None) -> None:
        """Set the duress passphrase (None: remove it, leaving a decoy). Raises Locked,
        UsageError."""
        self.unlocked()
        await self.hashes.run(keystore.set_duress, self.data_dir, passphrase)

    # --- helpers for the control socket and the web app -------------------------

    def peer_names(self) -> dict[bytes, str]:
        """Organisation names by node key: this node's and its peers', under every key
        each has had (cached): the organisations this node can name."""
        return self._names

    def organisations(self) -> dict[bytes, bytes]:
        """Which organisation each key of ``peer_names`` is: its current key (cached)."""
        return self._organisations

    async def refresh_peer_names(self) -> None:
        state = self._state
        names: dict[bytes, str] = {}
        organisations: dict[bytes, bytes] = {}
        if isinstance(state, Unlocked):
            own = [bytes(k.verify_key) for k in [*state.keys.previous, state.keys.signing]]
            peers = await state.store.peers.list()
            names, organisations = organisation_names(peers, own, self.config.name)
        self._names, self._organisations = names, organisations

    async def _renew_certificate(self) -> dict[str, Any]:
        return self.unlocked().trust.renew_certificate()

    @staticmethod
    async def _moved_notice(notifier: Notifier) -> None:
        await notifier.queue_text("moved")

    async def run_retention(self) -> dict[str, Any]:
        state = self.unlocked()
        await state.alerts.flush_counts()  # checks counted in memory (totals)
        return await upkeep.run_retention(state.store, state.settings, self.clock.now())

    async def status(self) -> dict[str, Any]:
        state = self._state
        info: dict[str, Any] = {
            "name": self.config.name,
            "key": self.config.key,
            "locked": self.locked,
            "web": self.web_url,
            "federation": state.trust.url if isinstance(state, Unlocked) else None,
            "jobs": self.jobs.last,
        }
        if isinstance(state, Unlocked):
            info.update(await upkeep.unlocked_status(state.store, state.notifier, self.clock.now()))
        return info


async def _bounded(work: Any, seconds: float, what: str) -> None:
    """Await ``work`` for at most ``seconds``; a part that fails or hangs is logged."""
    try:
        await asyncio.wait_for(work, seconds)
    except TimeoutError:
        log.warning("stopping %s took longer than %.1f s; left behind", what, seconds)
    except Exception as exc:
        log.warning("stopping %s failed: %s", what, type(exc).__name__)


# How aiohttp applications (control socket, web, federation) find their node.
NODE_KEY: web.AppKey[Node] = web.AppKey("node", Node)
