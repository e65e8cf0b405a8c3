"""What the web app needs from the node that serves it, as a narrow Protocol.

Rule: web handlers reach the node only through ``Host``: its clock, its name, the
bounded pool for slow hashes, and (when unlocked) its services by name through
``unlocked()``. Nothing in node/web holds the whole ``Node``, its data directory or
its keys; ``node.app.Node`` satisfies ``Host``, and tests may pass any fake that does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from federation.clock import Clock

if TYPE_CHECKING:
    from ..app import Unlocked

T = TypeVar("T")


class HashPool(Protocol):
    """The node's bounded pool for slow hashes (passphrases; blinding goes through
    the alert service, which holds the network keys)."""

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in the pool."""
        ...


class Host(Protocol):
    """The node, as the web app sees it."""

    @property
    def clock(self) -> Clock: ...

    @property
    def name(self) -> str:
        """The node's name (cards, the trust list). Pages show the public name the
        organisation chose instead (node/texts.py), never this."""
        ...

    @property
    def hashes(self) -> HashPool: ...

    @property
    def locked(self) -> bool: ...

    @property
    def has_passphrase(self) -> bool:
        """Whether the key store opens with a passphrase (not a key file)."""
        ...

    def unlocked(self) -> Unlocked:
        """The open store, alert service, settings and trust list. Raises Locked."""
        ...

    async def unlock(self, passphrase: str | None) -> None:
        """Raises WrongPassphrase, UsageError. The duress passphrase wipes the node and
        raises WrongPassphrase, exactly as a wrong one."""
        ...

    async def passphrase_opens(self, passphrase: str) -> bool:
        """Whether ``passphrase`` opens the key store (checked in the hash pool). The
        duress passphrase wipes the node and is answered False, like a wrong one."""
        ...

    async def wipe(self) -> dict[str, Any]:
        """Destroy the keys and every file, then stop."""
        ...
