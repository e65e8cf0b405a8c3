"""What a command handler may use of the running node, as a narrow Protocol.

Rule: handlers on the control socket reach the node only through ``NodeControl``;
``node.app.Node`` provides it. The unlocked parts (store, alerts, settings, trust)
come by name from ``unlocked()``, which raises ``Locked`` on a locked node.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from federation.clock import Clock

from ..config import Config
from ..overrides import Overrides

if TYPE_CHECKING:
    from ..app import Unlocked
    from ..network.pairing import PairingMode


class NodeControl(Protocol):
    clock: Clock
    config: Config
    data_dir: Path
    pairing: PairingMode
    stopped: asyncio.Event
    overrides: Overrides

    @property
    def locked(self) -> bool: ...

    def unlocked(self) -> Unlocked: ...

    async def unlock(self, passphrase: str | None) -> None: ...

    async def status(self) -> dict[str, Any]: ...

    async def wipe(self) -> dict[str, Any]: ...

    async def rotate_key(self) -> dict[str, Any]: ...

    async def rotate_network_key(self) -> dict[str, Any]: ...

    async def create_backup(self, out: Path) -> dict[str, Any]: ...

    async def change_passphrase(self, old: str | None, new: str) -> None: ...

    async def set_duress_passphrase(self, passphrase: str | None) -> None: ...
