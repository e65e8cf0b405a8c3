"""Federation over HTTPS: the pinned client (``HttpsTransport``) and the aiohttp
adapter that serves a ``FederationServer`` (``federation_app``). The only module in
federation/ that speaks aiohttp to peers.

Rule: every outbound request is signed (protocol.request), has a timeout, and reads
at most a named number of response bytes. HTTPS connections are pinned to the TLS key:
the SHA-256 of the certificate's SubjectPublicKeyInfo must be one of the peer's pins
(``SpkiPins``), checked right after the handshake and before a byte of the request
is written, so no certificate authority is trusted; onion URLs (and peers with a
proxy set) go through a SOCKS5 proxy; plain HTTP is used only to loopback addresses
and only when the node was started with the explicit test flag. The server adapter
reads at most MAX_REQUEST_BYTES of a request and leaves every decision to
``FederationServer``. A refusal's structured body is read into ``PeerRefused`` (code,
message, field, Retry-After). No response carries a ``Server`` header
(``drop_server_header``, which the web port uses too): nothing a node answers names
the software to a scanner.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
import urllib.parse
from typing import Any

import aiohttp
import nacl.signing
from aiohttp import web
from aiohttp_socks import ProxyConnectionError, ProxyConnector, ProxyError, ProxyTimeoutError
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from protocol.card import is_loopback_url, is_onion_url
from protocol.request import REQUEST_HEADER

from .clock import Clock
from .errors import (
    MAX_REFUSAL_BYTES,
    BadResponse,
    PeerUnreachable,
    PinMismatch,
    TransportNotAllowed,
    parse_refusal,
)
from .listener import QuietRequestHandler
from .server import MAX_REQUEST_BYTES, FederationServer, Reply, internal_error, refuse
from .transport import BASE_PATH, REQUEST_TIMEOUT_S, sign_for
from .trust import Peer

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
# A pooled connection idle longer than this is not reused: well below the time a node
# keeps a trusted peer's connection open idle (600 s, ConnectionLimits), so a request
# never goes out on a connection the peer is closing, and above the longest wait
# between two of a worker's pulls (300 s + 20%), so the next alert finds the
# connections to its peers open instead of paying TCP and TLS at every hop.
CLIENT_KEEPALIVE_S = 540.0
READ_CHUNK_BYTES = 64 * 1024


def spki_hash_of_der(der: bytes) -> bytes:
    """SHA-256 of a DER certificate's SubjectPublicKeyInfo (a pin)."""
    cert = x509.load_der_x509_certificate(der)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()


class SpkiPins(aiohttp.Fingerprint):
    """A pin set in the place aiohttp keeps a certificate fingerprint.

    aiohttp calls ``check`` on every new connection right after the TLS handshake
    and before it writes the request, so a connection to a key outside the set is
    closed with ServerFingerprintMismatch and no header or body is ever sent on it.
    One object per pin set: aiohttp keys its connection pool by this argument, so a
    pooled connection is reused only for the pins it was checked against.
    """

    def __init__(self, pins: frozenset[bytes]) -> None:
        if not pins or any(len(pin) != 32 for pin in pins):
            raise ValueError("a pin set holds one or more 32-byte SPKI hashes")
        super().__init__(min(pins))
        self.pins = pins

    def check(self, transport: asyncio.Transport) -> None:
        sslobj = transport.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
        got = spki_hash_of_der(der) if der else b""
        if got not in self.pins:
            # No peer address in the error: it is logged, and addresses are not.
            raise aiohttp.ServerFingerprintMismatch(self.fingerprint, got, "peer", 0)


def client_ssl_context() -> ssl.SSLContext:
    """TLS 1.3 without CA checks: every connection is pinned by SPKI hash instead."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    # The key is pinned by SPKI hash on every new connection instead (SpkiPins).
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def read_bounded(stream: aiohttp.StreamReader, limit: int) -> bytes | None:
    """Read ``stream`` to its end; None if it holds more than ``limit`` bytes."""
    chunks: list[bytes] = []
    total = 0
    async for chunk in stream.iter_chunked(READ_CHUNK_BYTES):
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class HttpsTransport:
    """Signed, pinned, bounded POSTs to peers; one connection pool per proxy.

    Implements ``federation.transport.Transport``; ``bytes_sent``, ``bytes_received``
    and ``round_trips`` count what crossed (benchmarks and tests read them)."""

    def __init__(
        self,
        key: nacl.signing.SigningKey,
        clock: Clock,
        *,
        allow_http: bool = False,
        socks_proxy: str | None = None,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self._key = key
        self._clock = clock
        self._allow_http = allow_http
        self._socks_proxy = socks_proxy
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=CONNECT_TIMEOUT_S)
        self._sessions: dict[str | None, aiohttp.ClientSession] = {}
        self._ssl = client_ssl_context()
        # aiohttp keys its connection pool by the ssl argument: one SpkiPins object
        # per pin set lets connections be reused.
        self._pins: dict[frozenset[bytes], SpkiPins] = {}
        self.bytes_sent = 0
        self.bytes_received = 0
        self.round_trips = 0

    def _session(self, proxy: str | None) -> aiohttp.ClientSession:
        session = self._sessions.get(proxy)
        if session is None or session.closed:
            connector: aiohttp.BaseConnector
            if proxy is None:
                connector = aiohttp.TCPConnector(
                    limit_per_host=4, ssl=self._ssl, keepalive_timeout=CLIENT_KEEPALIVE_S
                )
            else:
                connector = ProxyConnector.from_url(
                    proxy, rdns=True, ssl=self._ssl, keepalive_timeout=CLIENT_KEEPALIVE_S
                )
            session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, auto_decompress=False
            )
            self._sessions[proxy] = session
        return session

    def route(self, peer: Peer) -> tuple[str, str | None, Any]:
        """(base URL, proxy, ssl argument) for ``peer``. Raises TransportNotAllowed."""
        for url in peer.urls:
            scheme = urllib.parse.urlsplit(url).scheme
            onion = is_onion_url(url)
            proxy = peer.proxy or (self._socks_proxy if onion else None)
            if onion and proxy is None:
                continue
            if scheme == "https":
                if not peer.pins:
                    continue
                wanted = frozenset(peer.pins)
                pin = self._pins.get(wanted)
                if pin is None:
                    pin = self._pins[wanted] = SpkiPins(wanted)
                return url.rstrip("/"), proxy, pin
            if scheme == "http" and (onion or (self._allow_http and is_loopback_url(url))):
                return url.rstrip("/"), proxy, False
        raise TransportNotAllowed(
            "no usable federation URL for this peer (plain HTTP is only allowed to loopback "
            "with the test flag, and onion URLs need a SOCKS proxy)"
        )

    async def post(self, peer: Peer, path: str, body: bytes, max_response_bytes: int) -> bytes:
        """POST ``body`` to ``peer``'s ``path`` (under /fed/v2) and return the response body.

        Raises PeerUnreachable, PeerRefused, PinMismatch or TransportNotAllowed.
        """
        base, proxy, ssl_arg = self.route(peer)
        full_path = BASE_PATH + path
        split = urllib.parse.urlsplit(base)
        prefix = split.path.rstrip("/")
        header = sign_for(self._key, peer, prefix + full_path, body, self._clock.now())
        url = f"{split.scheme}://{split.netloc}{prefix}{full_path}"
        self.bytes_sent += len(body) + len(header)
        self.round_trips += 1
        try:
            async with self._session(proxy).post(
                url,
                data=body,
                headers={REQUEST_HEADER: header, "Content-Type": "application/msgpack"},
                ssl=ssl_arg,
                allow_redirects=False,
            ) as resp:
                limit = max_response_bytes if resp.status < 300 else MAX_REFUSAL_BYTES
                if (resp.content_length or 0) > limit:
                    raise BadResponse("the peer's answer was larger than allowed")
                data = await read_bounded(resp.content, limit)
                if data is None:
                    raise BadResponse("the peer's answer was larger than allowed")
                self.bytes_received += len(data)
                if resp.status >= 300:
                    raise parse_refusal(resp.status, data, resp.headers.get("Retry-After"))
                return data
        except aiohttp.ServerFingerprintMismatch:
            raise PinMismatch("the peer's TLS key is not one of the keys pinned for it") from None
        except TimeoutError:
            raise PeerUnreachable("the peer did not answer in time", code="timeout") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise PeerUnreachable(f"the peer cannot be reached ({type(exc).__name__})") from None
        except (ProxyConnectionError, ProxyTimeoutError, ProxyError) as exc:
            # aiohttp-socks errors are not ClientErrors: a dead Tor or a refused CONNECT.
            raise PeerUnreachable(
                f"the peer cannot be reached through the SOCKS proxy ({type(exc).__name__})"
            ) from None

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()


# --- the server side: aiohttp in front of a FederationServer ------------------------

SERVER_KEY: web.AppKey[FederationServer] = web.AppKey("federation", FederationServer)


def _response(reply: Reply) -> web.Response:
    if not reply.body:
        return web.Response(status=reply.status, headers=reply.headers)
    return web.Response(
        status=reply.status, body=reply.body, content_type=reply.content_type, headers=reply.headers
    )


async def drop_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """An ``on_response_prepare`` hook: aiohttp names itself and Python's version in a
    ``Server`` header on every response; a node sends none."""
    response.headers.popall("Server", None)


async def _serve(request: web.Request) -> web.StreamResponse:
    server = request.app[SERVER_KEY]
    early = server.refuse_early(request.headers, request.content_length)
    if early is not None:
        return _response(early)
    try:
        body = await read_bounded(request.content, MAX_REQUEST_BYTES)
    except web.RequestPayloadError:
        # Broken chunked framing or compression (the request is signed: a code).
        return _response(refuse("malformed", "the request body's framing does not decode"))
    if body is None:
        return _response(server.too_large())
    try:
        reply = await server.handle(request.method, request.raw_path, request.headers, body)
    except Exception as exc:
        # The error's text may hold member data: its type only, as the syncer logs.
        log.error("serving a federation request failed (%s)", type(exc).__name__)
        reply = internal_error()
    protocol = request.protocol
    if reply.from_peer and isinstance(protocol, QuietRequestHandler):
        protocol.guard.keep_for_peer()
    return _response(reply)


def federation_app(server: FederationServer) -> web.Application:
    """An aiohttp application serving ``server`` on every path of the federation port."""
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[SERVER_KEY] = server
    app.on_response_prepare.append(drop_server_header)
    # Every path goes to the server: it answers a request without the signature
    # header with a plain 404 wherever it goes, and a signed one for an unknown
    # route with a structured "not_found".
    app.router.add_route("*", "/{tail:.*}", _serve)
    return app
