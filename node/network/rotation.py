"""Rotating this node's signing key: owe the statement to every peer until delivered.

Rule: a rotation statement (protocol.rotation, signed by the old key and proven by the
new one) is written to a durable per-peer outbox before the node switches keys, and
stays there until the peer has taken it (or refused it for good: it no longer knows
the old key, or is no longer our peer). The courier delivers owed statements in
order, per peer, in requests signed by each statement's old key, retrying with a
backoff on the injected clock; a crash of one round is logged and the next round
runs. The old keys are kept, sealed, to sign those requests and to retract alerts
they signed. Another node's statement that this node passes on (docs/protocol.md
section 11) goes through the same outbox, in a request signed by our current key, and
so does a move statement (this node's new addresses, node/network/moves.py), sent to
``/move`` instead of ``/rotate``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

import nacl.signing

from federation.clock import Clock, within
from federation.errors import FederationError, PeerRefused
from federation.transport import REQUEST_TIMEOUT_S, Transport
from federation.trust import Peer
from protocol.signing import Kind, parse_envelope

log = logging.getLogger(__name__)

MAX_ROTATE_RESPONSE_BYTES = 1024
# The outbox holds key rotation statements and move statements (node/network/moves.py);
# each goes to its own route.
STATEMENT_PATHS = {Kind.ROTATION: "/rotate", Kind.MOVE: "/move"}
# A statement that could not be delivered is tried again after this, doubling.
OUTBOX_FIRST_RETRY_S = 60
OUTBOX_MAX_RETRY_S = 6 * 3600
# The courier looks at the outbox at least this often, and at once when woken.
OUTBOX_IDLE_S = 3600
# Statuses after which a statement is dropped: the peer will never take it.
FINAL_REFUSALS = frozenset({400, 401, 403, 404, 409, 413, 422})


class Outbox(Protocol):
    """What the courier needs of the trust list (node.store.peers.PeerStore)."""

    async def get(self, key: bytes) -> Peer | None: ...
    async def owed_rotations(self) -> list[tuple[int, bytes, bytes, int, int]]: ...
    async def rotation_delivered(self, item: int) -> None: ...
    async def rotation_failed(self, item: int, next_at: int, error: str) -> None: ...


def retry_delay(attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failure (1, 2, ...)."""
    return int(min(OUTBOX_MAX_RETRY_S, OUTBOX_FIRST_RETRY_S * 2 ** max(0, attempts - 1)))


class Courier:
    """Delivers owed rotation statements; ``run`` is its long-lived loop."""

    def __init__(
        self,
        outbox: Outbox,
        keys: Callable[[], Iterable[nacl.signing.SigningKey]],
        transport_for: Callable[[nacl.signing.SigningKey], Transport],
        clock: Clock,
    ) -> None:
        self._outbox = outbox
        self._keys = keys
        self._transport_for = transport_for
        self._clock = clock
        self._wake = asyncio.Event()
        # Called with a peer's key once it has taken a statement (sync resumes).
        self.on_delivered: Callable[[bytes], None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def deliver_due(self) -> tuple[list[str], list[dict[str, str]]]:
        """Try each peer's first owed statement that is due: (told, missed) by name."""
        now = self._clock.now()
        ours = list(self._keys())
        keys = {bytes(k.verify_key): k for k in ours}
        told: list[str] = []
        missed: list[dict[str, str]] = []
        tried: set[bytes] = set()
        for item, peer_key, statement, attempts, next_at in await self._outbox.owed_rotations():
            if peer_key in tried:
                continue  # a peer takes its statements in order, one per round
            tried.add(peer_key)
            if next_at > now:
                continue
            peer = await self._outbox.get(peer_key)
            if peer is None or not ours:
                await self._outbox.rotation_delivered(item)  # nobody left to tell
                continue
            # Our own statement goes in a request signed by its old key; another
            # node's, passed on, in one signed by our current key.
            own = keys.get(parse_envelope(statement).signer)
            error = await self._send(peer, own or ours[0], statement)
            if error is None:
                await self._outbox.rotation_delivered(item)
                tried.discard(peer_key)
                if own is None:
                    continue
                told.append(peer.name)
                if self.on_delivered is not None:
                    self.on_delivered(peer.key)
                continue
            final, text = error
            if own is not None:
                missed.append({"name": peer.name, "error": text})
            if final:
                log.warning("peer %s refused a statement for good", peer.short)
                await self._outbox.rotation_delivered(item)
            else:
                delay = retry_delay(attempts + 1)
                await self._outbox.rotation_failed(item, now + delay, text)
                log.info(
                    "statement not delivered to peer %s; retry in %d s",
                    peer.short,
                    delay,
                )
        return told, missed

    async def _send(
        self, peer: Peer, signer: nacl.signing.SigningKey, statement: bytes
    ) -> tuple[bool, str] | None:
        """None when delivered, else (final, error text)."""
        transport = self._transport_for(signer)
        try:
            await within(
                self._clock,
                REQUEST_TIMEOUT_S,
                transport.post(
                    peer,
                    STATEMENT_PATHS[parse_envelope(statement).kind],
                    statement,
                    MAX_ROTATE_RESPONSE_BYTES,
                ),
            )
            return None
        except PeerRefused as exc:
            return exc.status in FINAL_REFUSALS, str(exc)
        except FederationError as exc:
            return False, str(exc)
        except TimeoutError:
            return False, "the peer did not answer in time"
        finally:
            await transport.close()

    async def run(self) -> None:
        """Deliver what is due, then sleep until the next is due or a wake; a failed
        round is logged (its type only) and retried after the first retry delay."""
        while True:
            self._wake.clear()
            wait: float = OUTBOX_IDLE_S
            try:
                await self.deliver_due()
                now = self._clock.now()
                owed = await self._outbox.owed_rotations()
                if owed:
                    wait = max(0, min(min(r[4] for r in owed) - now, OUTBOX_IDLE_S))
            except Exception as exc:  # a supervised loop: log the type, go on
                log.error("key rotation delivery failed (%s)", type(exc).__name__)
                wait = OUTBOX_FIRST_RETRY_S
            if wait <= 0:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await within(self._clock, wait, self._wake.wait())
