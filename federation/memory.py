"""Federation in memory: a network of ``FederationServer``s by address, and a
``MemoryTransport`` that reaches them with no sockets, for deterministic tests.

Rule: a request crosses the memory network exactly as it would cross HTTPS: signed
by ``transport.sign_for`` over the same path, answered by the same server logic,
refused with the same ``FederationError``s; only the wire is missing. Faults are set
per directed link (cut, hang, latency on the injected Clock), so a test decides what
the network does and nothing depends on real time.

A peer's address is its first ``mem://`` URL, e.g. ``mem://a``.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import nacl.signing

from protocol.request import REQUEST_HEADER

from .clock import Clock
from .errors import (
    MAX_REFUSAL_BYTES,
    BadResponse,
    PeerUnreachable,
    TransportNotAllowed,
    parse_refusal,
)
from .server import FederationServer, internal_error
from .transport import BASE_PATH, sign_for
from .trust import Peer

SCHEME = "mem"
# Requests the network remembers (``MemoryNetwork.log``), oldest dropped first.
MAX_LOGGED_REQUESTS = 10_000

Hook = Callable[[str], Awaitable[None]]


def address(name: str) -> str:
    """The memory URL of a node called ``name``."""
    return f"{SCHEME}://{name}"


@dataclass
class Link:
    """What the network does to requests from one address to another."""

    cut: bool = False
    hang: bool = False
    # Swallow the first cancellation while hanging, as a client can at a timeout.
    stubborn: bool = False
    latency_s: float = 0.0
    # Awaited with the route path before each request is delivered.
    before: Hook | None = None
    hanging: int = 0


@dataclass(frozen=True, slots=True)
class Delivery:
    source: str
    destination: str
    path: str
    status: int


@dataclass
class MemoryNetwork:
    clock: Clock
    servers: dict[str, FederationServer] = field(default_factory=dict)
    links: dict[tuple[str, str], Link] = field(default_factory=dict)
    log: list[Delivery] = field(default_factory=list)

    def attach(self, addr: str, server: FederationServer) -> None:
        self.servers[addr] = server

    def detach(self, addr: str) -> None:
        self.servers.pop(addr, None)

    def link(self, source: str, destination: str) -> Link:
        """The (mutable) link from ``source`` to ``destination``."""
        return self.links.setdefault((source, destination), Link())

    def both(self, x: str, y: str) -> tuple[Link, Link]:
        return self.link(x, y), self.link(y, x)

    async def deliver(
        self, source: str, destination: str, path: str, header: str, body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        """Carry one request over the link; the server's (status, body, headers).

        Raises PeerUnreachable for a cut link or an address nobody serves."""
        link = self.link(source, destination)
        if link.before is not None:
            await link.before(path)
        if link.latency_s:
            await self.clock.sleep(link.latency_s)
        if link.cut:
            raise PeerUnreachable("the peer cannot be reached (ConnectionRefusedError)")
        if link.hang:
            await _hang(link)
        server = self.servers.get(destination)
        if server is None:
            raise PeerUnreachable("the peer cannot be reached (ConnectionRefusedError)")
        try:
            headers = {REQUEST_HEADER: header}
            early = server.refuse_early(headers, len(body))
            reply = early or await server.handle("POST", path, headers, body)
        except Exception:
            # What an HTTP server does with a handler's crash: a 500, not the crash
            # itself inside the client.
            reply = internal_error()
        self.log.append(Delivery(source, destination, path, reply.status))
        del self.log[:-MAX_LOGGED_REQUESTS]
        if link.latency_s:
            await self.clock.sleep(link.latency_s)
        return reply.status, reply.body, dict(reply.headers)


async def _hang(link: Link) -> None:
    link.hanging += 1
    try:
        forever = asyncio.get_running_loop().create_future()
        try:
            await forever
        except asyncio.CancelledError:
            if not link.stubborn:
                raise
            await asyncio.get_running_loop().create_future()
    finally:
        link.hanging -= 1


class MemoryTransport:
    """``federation.transport.Transport`` over a ``MemoryNetwork``, from ``source``."""

    def __init__(
        self,
        key: nacl.signing.SigningKey,
        clock: Clock,
        network: MemoryNetwork,
        source: str,
    ) -> None:
        self._key = key
        self._clock = clock
        self._network = network
        self.source = source
        self.bytes_sent = 0
        self.bytes_received = 0
        self.round_trips = 0

    async def post(self, peer: Peer, path: str, body: bytes, max_response_bytes: int) -> bytes:
        """As ``HttpsTransport.post``. Raises PeerUnreachable, PeerRefused or
        TransportNotAllowed."""
        url = next((u for u in peer.urls if urllib.parse.urlsplit(u).scheme == SCHEME), None)
        # A peer known only by https URLs (as a move statement must name them) is
        # reached at the memory address of its URL's host name.
        url = url or next((u for u in peer.urls if u.startswith("https://")), None)
        if url is None:
            raise TransportNotAllowed("no usable federation URL for this peer")
        split = urllib.parse.urlsplit(url.rstrip("/"))
        if split.scheme == "https":
            split = split._replace(netloc=split.hostname or split.netloc)
        signed_path = split.path + BASE_PATH + path
        header = sign_for(self._key, peer, signed_path, body, self._clock.now())
        self.bytes_sent += len(body) + len(header)
        self.round_trips += 1
        destination = f"{SCHEME}://{split.netloc}"
        status, data, headers = await self._network.deliver(
            self.source, destination, signed_path, header, body
        )
        if len(data) > (max_response_bytes if status < 300 else MAX_REFUSAL_BYTES):
            raise BadResponse("the peer's answer was larger than allowed")
        self.bytes_received += len(data)
        if status >= 300:
            raise parse_refusal(status, data, headers.get("Retry-After"))
        return data

    async def close(self) -> None:
        return None
