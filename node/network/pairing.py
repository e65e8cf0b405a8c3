"""Pairing mode inside the node: advertise for a limited time, list what is found,
add a found node only when the admin asks for it by key.

Rule: the node advertises only while a session runs, and a session always ends: at
its deadline, on ``stop()``, or when the node stops, whichever comes first. Finding
a node adds nothing to the trust list; ``accept`` adds a card that this node
discovered and verified itself, and only the one whose key the admin named.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import TYPE_CHECKING, Any

from protocol.card import parse_card_text
from protocol.pairing import NONCE_BYTES, Match

from ..errors import NotFound, UsageError

if TYPE_CHECKING:
    from federation.discovery import Discovery

    from ..app import Node

log = logging.getLogger(__name__)

MAX_PAIRING_S = 600
DEFAULT_PAIRING_S = 60


class PairingMode:
    """At most one pairing session at a time for one node."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._discovery: Discovery | None = None
        self._timer: asyncio.Task[None] | None = None
        self._until: int | None = None
        # The last session's finds stay until the next one starts, so an admin who
        # answers a prompt just after the deadline can still add the node.
        self._found: dict[bytes, Match] = {}

    @property
    def active(self) -> bool:
        return self._discovery is not None and self._discovery.active

    async def start(self, seconds: int, interfaces: list[str] | None) -> dict[str, Any]:
        """Advertise for ``seconds`` (restarting any session). Raises UsageError."""
        if not 1 <= seconds <= MAX_PAIRING_S:
            raise UsageError(f"--seconds must be between 1 and {MAX_PAIRING_S}")
        peering = self._node.unlocked().trust
        await self.stop()
        clock = self._node.clock
        card = parse_card_text(peering.card(), clock.now())
        # zeroconf is loaded only when a session starts (the CLI imports this module).
        from federation.discovery import Discovery, DiscoveryError

        try:
            discovery = Discovery(card, clock, interfaces, secrets.token_bytes(NONCE_BYTES))
            await discovery.start()
        except DiscoveryError as exc:
            raise UsageError(exc.message) from None
        self._discovery = discovery
        self._found = discovery.sightings
        self._until = clock.now() + seconds
        self._timer = asyncio.get_running_loop().create_task(
            self._end_after(seconds), name="pairing-timer"
        )
        return self.status()

    async def _end_after(self, seconds: int) -> None:
        deadline = asyncio.ensure_future(self._node.clock.sleep(seconds))
        stopped = asyncio.ensure_future(self._node.stopped.wait())
        try:
            await asyncio.wait((deadline, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            deadline.cancel()
            stopped.cancel()
        self._timer = None  # stop() must not cancel the task that runs it
        await self.stop()

    async def stop(self) -> dict[str, Any]:
        """End the session now: the advertisement is withdrawn."""
        timer, self._timer = self._timer, None
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        discovery, self._discovery = self._discovery, None
        if discovery is not None:
            await discovery.close()
            log.info("pairing mode ended")
        self._until = None
        return self.status()

    def status(self) -> dict[str, Any]:
        self._node.unlocked()
        return {
            "active": self.active,
            "until": self._until,
            "discovered": [
                {
                    "key": match.card.key.hex(),
                    "name": match.card.body.name,
                    "urls": list(match.card.body.urls),
                    # The commit-then-reveal code of this session, not the key check.
                    "sas": match.code,
                }
                for match in self._found.values()
            ],
        }

    async def accept(self, key: bytes, accept: str, share: bool) -> dict[str, Any]:
        """Add the discovered node with ``key`` to the trust list. Raises NotFound."""
        match = self._found.get(key)
        if match is None:
            raise NotFound(
                "no node with that key was discovered in this pairing session; "
                "both nodes must run 'alertnode pair' at the same time"
            )
        added = await self._node.unlocked().trust.add_peer(
            match.card.to_text(), accept, share, None
        )
        return {**added, "sas": match.code}
