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

from protocol.card import SUPPORTED_VERSIONS
from protocol.request import sign_request

from .trust import Peer

# The federation protocol version this node talks: the highest it speaks. Every route
# lives under ``/fed/v<version>``, after the path of the peer's card URL (the prefix);
# cards list the versions a node speaks, and two nodes talk the highest both list
# (protocol.card.negotiate), which is this one while a node speaks only one.
VERSION = max(SUPPORTED_VERSIONS)
# The part of a route's path that names the protocol, e.g. "/fed/v2/changes".
FED_PATH = "/fed/"
BASE_PATH = f"{FED_PATH}v{VERSION}"
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
