"""The client side of federation, as the syncer and the rotation announcer see it.

Rule: the federation logic talks to peers only through ``Transport``: one signed,
bounded POST under ``BASE_PATH`` that returns the answer body or raises a
``FederationError``. ``federation.https.HttpsTransport`` is the pinned-HTTPS
implementation; ``federation.memory.MemoryTransport`` the in-memory one for tests.
Both sign requests the same way (``sign_for``).
"""

from __future__ import annotations

import secrets
from typing import Protocol

import nacl.signing

from protocol.request import sign_request

from .trust import Peer

# Every federation route lives under this path, on both sides.
BASE_PATH = "/fed/v1"
REQUEST_TIMEOUT_S = 15.0
NONCE_BYTES = 16


class Transport(Protocol):
    async def post(self, peer: Peer, path: str, body: bytes, max_response_bytes: int) -> bytes:
        """POST ``body`` to ``peer``'s ``path`` (under BASE_PATH); the answer's body.

        Raises PeerUnreachable, PeerRefused (with the peer's ``status``), PinMismatch
        or TransportNotAllowed.
        """
        ...

    async def close(self) -> None: ...


def sign_for(
    key: nacl.signing.SigningKey, peer: Peer, signed_path: str, body: bytes, now: int
) -> str:
    """The request header for a POST of ``body`` to ``signed_path`` on ``peer``."""
    return sign_request(
        key, "POST", signed_path, body, peer.key, now, secrets.token_bytes(NONCE_BYTES)
    )
