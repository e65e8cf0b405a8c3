"""Moving this node to new addresses (a host dropped it, a domain was seized): tell
every peer, by a move statement signed with the node key, where it is reached now.

Rule: the statement (protocol.move) is written to the same durable per-peer outbox
as key rotation statements (node/network/rotation.py) before anything else changes,
so the courier delivers it to every peer, retrying, even across a restart; each is
dated later than the last this node signed, so a peer applies the newest only. Keys,
TLS pins and every peer's policy and cursor stay as they were: peers keep syncing
without pairing again. ``MoveHook``s are called after a move with the new public
URL: the place to send members a neutral "we moved" notice (not wired here).
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import nacl.signing

from federation.trust import Peer
from protocol.errors import ProtocolError
from protocol.move import sign_move

from ..config import Config, parse_hostport
from ..errors import UsageError

log = logging.getLogger(__name__)

# Called after this node moved, with its new public federation URL.
MoveHook = Callable[[str], Awaitable[None]]


class MoveOutbox(Protocol):
    """What a move needs of the trust list (node.store.peers.PeerStore)."""

    async def list(self) -> list[Peer]: ...
    async def queue_rotation(
        self, peers: builtins.list[bytes], statement: bytes, now: int
    ) -> None: ...


def moved_config(config: Config, public_url: str, fed: str | None, web: str | None) -> Config:
    """``config`` with the new addresses. Raises UsageError for a bad one."""
    if fed is not None:
        parse_hostport(fed, "--fed")
    if web is not None:
        parse_hostport(web, "--web")
    return dataclasses.replace(
        config,
        public_url=public_url,
        fed=config.fed if fed is None else fed,
        web=config.web if web is None else web,
    )


async def owe_move(
    peers: MoveOutbox,
    key: nacl.signing.SigningKey,
    urls: tuple[str, ...],
    now: int,
    last_at: int,
) -> int:
    """Sign a move statement to ``urls`` dated after ``last_at`` and owe it to every
    peer, durably; returns its date. Raises UsageError for a URL a card refuses."""
    at = max(now, last_at + 1)
    try:
        statement = sign_move(key, urls, at).envelope.to_bytes()
    except ProtocolError as exc:
        raise UsageError(f"--public-url: {exc.message}") from None
    keys = [p.key for p in await peers.list()]
    await peers.queue_rotation(keys, statement, now)
    log.info("owed a move statement to %d peer(s)", len(keys))
    return at
