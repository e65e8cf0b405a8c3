"""The composition root: builds a node from its data directory and wires its parts.

Rule: this is the only module that knows every component; each component receives
exactly what it uses. A node is either locked (nothing decrypted, the store closed;
web and federation answer "locked") or unlocked (the data key in memory only).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from federation.clock import Clock, SystemClock

from . import config as config_mod
from . import keystore
from .blinding import Blinder
from .config import Config
from .errors import AlreadyRunning, Locked, UsageError
from .jobs import RETENTION_INTERVAL_S, Jobs
from .pairing import PairingMode
from .peering import Peering
from .service import AlertService
from .settings import Settings
from .store import Store

log = logging.getLogger(__name__)

LOCK_FILE = "lock"
CONTROL_SOCKET = "control.sock"
MAX_SOCKET_PATH = 100
WIPE_STOP_S = 0.5


class Node:
    def __init__(self, data_dir: Path, config: Config, clock: Clock | None = None) -> None:
        self.data_dir = data_dir
        self.config = config
        self.clock = clock or SystemClock()
        self.blinder = Blinder()
        self.jobs = Jobs(self.clock)
        self.store: Store | None = None
        self.settings: Settings | None = None
        self.service: AlertService | None = None
        self.signing_key: Any = None
        self.data_key: bytes | None = None
        self._lock_fd: int | None = None
        self._runners: list[web.AppRunner] = []
        self._unlock_lock = asyncio.Lock()
        self.stopped = asyncio.Event()
        self.web_url = ""
        self.peering: Peering | None = None
        self.previous_keys: list[Any] = []
        self._names: dict[bytes, str] = {}
        self.pairing = PairingMode(self)

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
        runner = web.AppRunner(control_app(self), access_log=None)
        await runner.setup()
        old_umask = os.umask(0o177)
        try:
            await web.UnixSite(runner, str(sock)).start()
        finally:
            os.umask(old_umask)
        os.chmod(sock, 0o600)
        self._runners.append(runner)

        host, port = config_mod.parse_hostport(self.config.web, "--web")
        runner = web.AppRunner(web_app(self), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runners.append(runner)
        bound = runner.addresses[0] if runner.addresses else (host, port)
        self.web_url = f"http://{host if ':' not in host else f'[{host}]'}:{bound[1]}/"

        if passphrase is not None or keystore.mode(self.data_dir) == "keyfile":
            await self.unlock(passphrase)

    @property
    def locked(self) -> bool:
        return self.store is None

    async def unlock(self, passphrase: str | None) -> None:
        """Open the key store and the store. Raises WrongPassphrase, UsageError."""
        async with self._unlock_lock:
            if not self.locked:
                return
            unlocked = await self.blinder.run(keystore.unlock, self.data_dir, passphrase)
            store = await Store.open(self.data_dir, unlocked.data_key)
            settings = Settings(await store.settings.all())
            if not settings["phone_region"] and self.config.region:
                settings.set("phone_region", self.config.region[:2])
            if not settings["regions"] and self.config.region:
                settings.set("regions", [self.config.region])
            self.data_key = unlocked.data_key
            self.signing_key = unlocked.signing_key
            self.settings = settings
            self.service = AlertService(
                store, unlocked.signing_key, self.clock, self.blinder, settings, self.peer_names
            )
            self.service.set_keys(unlocked.signing_key, unlocked.previous)
            self.previous_keys = list(unlocked.previous)
            self.store = store
            await self._start_peering(unlocked.signing_key)
            self.service.on_new_item(self._new_local_item)
            self.jobs.every("retention", RETENTION_INTERVAL_S, self.run_retention)
            log.info("node unlocked")

    async def _start_peering(self, key: Any) -> None:
        assert self.store is not None and self.data_key is not None
        peering = Peering(
            self.data_dir, self.config, key, self.data_key, self.store, self.clock,
            lambda: self.locked,
        )  # fmt: skip
        peering.on_change = self.refresh_peer_names
        await peering.start()
        self.peering = peering
        await self.refresh_peer_names()

    async def _new_local_item(self) -> None:
        if self.peering is not None:
            await self.peering.new_local_item()

    async def switch_signing_key(self, new: Any, old: Any) -> None:
        """After a key rotation: sign, serve and sync as ``new`` (``old`` still retracts)."""
        assert self.service is not None
        self.previous_keys.append(old)
        self.signing_key = new
        self.service.set_keys(new, self.previous_keys)
        await self.require_peering().switch_key(new)
        await self.refresh_peer_names()

    async def stop(self) -> None:
        await self.jobs.stop()
        if self.peering is not None:
            await self.peering.stop()
            self.peering = None
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        if self.store is not None:
            await self.store.close()
            self.store = None
        self.blinder.close()
        if self._lock_fd is not None:
            # Only the holder of the lock owns the socket; a refused second run must
            # not remove the running node's socket.
            (self.data_dir / CONTROL_SOCKET).unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = None
        self.stopped.set()

    async def wipe(self) -> dict[str, Any]:
        """Panic wipe (node.wipe): the wrapped key first, then stop, then every file.

        The node stops afterwards. Used by ``alertnode wipe`` and the admin page.
        """
        from . import wipe

        started = time.monotonic()
        files = wipe.destroy_keys(self.data_dir)
        log.warning("panic wipe: key store destroyed")
        self.data_key = self.signing_key = None
        self.service = self.settings = None
        # Stop writers before the database goes; an in-flight request may wait on
        # them, but never longer than this.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.jobs.stop(), WIPE_STOP_S)
        if self.peering is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.peering.stop(), WIPE_STOP_S)
            self.peering = None
        if self.store is not None:
            store, self.store = self.store, None
            with contextlib.suppress(Exception):
                # No checkpoint: the WAL is about to be overwritten, not merged.
                await asyncio.wait_for(store.db.conn.close(), WIPE_STOP_S)
        files += wipe.destroy_rest(self.data_dir)
        self.stopped.set()
        return {"wiped": True, "files": files, "seconds": round(time.monotonic() - started, 3)}

    # --- helpers for the control socket and the web app -------------------------

    def require(self) -> tuple[Store, AlertService, Settings]:
        """The unlocked parts. Raises Locked."""
        if self.store is None or self.service is None or self.settings is None:
            raise Locked("the node is locked; unlock it with 'alertnode unlock'")
        return self.store, self.service, self.settings

    def peer_names(self) -> dict[bytes, str]:
        """Organisation names by node key: this node's and its peers' (cached)."""
        return self._names

    async def refresh_peer_names(self) -> None:
        names: dict[bytes, str] = {}
        if self.store is not None:
            names.update({p.key: p.name for p in await self.store.peers.list()})
        for key in [*self.previous_keys, self.signing_key]:
            if key is not None:
                names[bytes(key.verify_key)] = self.config.name
        self._names = names

    def require_peering(self) -> Peering:
        self.require()
        assert self.peering is not None
        return self.peering

    async def run_retention(self) -> dict[str, Any]:
        store, _, settings = self.require()
        now = self.clock.now()
        purged = await store.alerts.purge_expired(now)
        reports = await store.reports.purge_older_than(
            now - settings["report_retention_days"] * 86400
        )
        audit = await store.audit.purge_older_than(now - settings["audit_retention_days"] * 86400)
        invites = await store.members.purge_invites(now)
        if store.db.checkpoint_pending:
            await store.db.checkpoint()
        return {**purged, "reports": reports, "audit": audit, "invites": invites}

    async def status(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "name": self.config.name,
            "key": self.config.key,
            "locked": self.locked,
            "web": self.web_url,
            "federation": self.peering.url if self.peering else None,
            "jobs": self.jobs.last,
        }
        if self.store is not None:
            info["counts"] = {
                **await self.store.alerts.counts(self.clock.now()),
                "members": await self.store.members.count(),
            }
        return info


# How aiohttp applications (control socket, web, federation) find their node.
NODE_KEY: web.AppKey[Node] = web.AppKey("node", Node)
