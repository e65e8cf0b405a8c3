"""The listening sockets of both ports (web and federation): every connection has a
deadline in every phase, the number of connections is capped in total and per client
address, and nothing answered or logged names the software or the client.

Rule: a connection is always in exactly one phase, each with its own deadline:
``handshake`` (TLS only: ``handshake_timeout_s``), ``idle`` (no byte of a next request
within ``idle_timeout_s`` of opening or of the previous answer, or
``peer_idle_timeout_s`` once the federation server has accepted a request on the
connection from a trusted peer: ``Guard.keep_for_peer``), ``head`` (the whole
request head within ``header_timeout_s`` of its first byte) and ``request`` (the whole
body within ``body_timeout_s`` of the head; once the body is in, the handler's own
timeouts apply); and whenever the client stops reading its answer, it has
``stall_timeout_s`` to read on. A connection past a deadline is aborted by the server.
Connections over a cap are pushed out or refused by the rules of
federation/connections.py. The client address is never logged, and aiohttp's own
error answers (malformed request line, oversized header) carry no ``Server`` header,
no parser message and no log line with the address.

aiohttp's server has an idle keep-alive timeout but no handshake, head or body
deadline and no connection cap, so the TLS handshake and the phases live here: a
``Guard`` protocol sits under TLS (``loop.start_tls``, so connections still in their
handshake are counted too) and in front of aiohttp's ``RequestHandler``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader

from .connections import ConnectionLimits, ConnectionTable, address_key

log = logging.getLogger(__name__)

# Errors a client causes, never the node: aiohttp logs them at error level.
CLIENT_ERRORS = (web.RequestPayloadError, HttpProcessingError, ConnectionError)
# What a client may send before the connection has been handed to aiohttp (the bytes
# that arrive between the end of a TLS handshake and the handler taking over).
MAX_EARLY_BYTES = 64 * 1024
# Connections the kernel queues for accepting; the event loop accepts up to this many
# at once, before any of them is counted against a cap.
LISTEN_BACKLOG = 128
# How long aiohttp keeps reading a body nobody read after the answer, before closing.
LINGER_S = 2.0


class BareResponse(web.Response):
    """A response without the ``Server`` header aiohttp adds to every answer: the
    answers aiohttp makes itself never pass the application's
    ``on_response_prepare`` hooks (aiohttp issue 6463)."""

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        self.headers.popall("Server", None)


class QuietRequestHandler(web.RequestHandler):
    """aiohttp's protocol with its own error answers made anonymous: a plain status
    line and phrase instead of the parser's message, no ``Server`` header, and a log
    line that holds the error's type only (aiohttp's names the client address)."""

    __slots__ = ("guard",)

    def __init__(self, manager: web.Server, guard: Guard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.guard = guard

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        log.debug("answered %d to a request the HTTP layer could not take", status)
        if request.writer.output_size > 0:
            # Some of an answer is out already: the connection cannot carry another.
            raise ConnectionError("an answer was already being sent")
        try:
            text = f"{status}: {HTTPStatus(status).phrase}"
        except ValueError:
            text = str(status)
        # Worded like every other plain refusal of both ports ("404: Not Found").
        response = BareResponse(status=status, text=text)
        response.force_close()
        return response

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        try:
            return await super().finish_response(request, resp, start_time)
        finally:
            self.guard.answered()


class _ScrubAddresses(logging.Filter):
    """aiohttp's protocol logs through this logger: keep the message's wording and the
    exception's type, drop its arguments and traceback (they may hold the client's
    address or the bytes it sent). What a client did wrong (a broken body, a dropped
    connection) is logged at debug: a stranger does not get to fill the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        text = str(record.msg).replace("%s", "-").replace("%r", "-")
        record.msg = f"{text} ({type(error).__name__})" if error is not None else text
        record.args = None
        record.exc_info = None
        record.exc_text = None
        if isinstance(error, CLIENT_ERRORS):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


HTTP_LOG = logging.getLogger(__name__ + ".http")
HTTP_LOG.addFilter(_ScrubAddresses())


class Guard(asyncio.Protocol):
    """One connection: its phase, its deadline, its place in the table; it passes
    bytes on to aiohttp's handler once TLS (if any) is up."""

    def __init__(self, site: GuardedSite) -> None:
        self._site = site
        self._limits = site.limits
        self._table = site.table
        self._loop = asyncio.get_running_loop()
        self.key = ""
        self.phase = "new"
        self.handed_over = False
        self._raw: asyncio.Transport | None = None
        self._transport: asyncio.Transport | None = None
        self._handler: QuietRequestHandler | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stall: asyncio.TimerHandle | None = None
        self._payload: StreamReader | None = None
        self._early = bytearray()
        self._tls_task: asyncio.Task[None] | None = None
        self._idle_s = self._limits.idle_timeout_s

    # --- what the event loop calls -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._raw = transport
        self.key = address_key(transport.get_extra_info("peername"))
        if not self._table.admit(self):
            self.phase = "closed"
            transport.abort()
            return
        context = self._site.ssl_context
        if context is None:
            self._hand_over(transport)
            return
        self._enter("handshake", self._limits.handshake_timeout_s)
        transport.pause_reading()
        self._tls_task = self._loop.create_task(self._handshake(transport, context))

    def data_received(self, data: bytes) -> None:
        if self._handler is None:
            # TLS delivers bytes before start_tls returns; the handler gets them next.
            self._early += data
            if len(self._early) > MAX_EARLY_BYTES:
                self.abort()
            return
        if self.phase == "idle":
            self._enter("head", self._limits.header_timeout_s)
        self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        # aiohttp keeps nothing open after the client's end of stream: neither do we.
        if self._handler is not None:
            self._handler.eof_received()
        return None

    def pause_writing(self) -> None:
        # The client stopped reading its answer: it has stall_timeout_s to go on.
        if self._stall is None and self.phase != "closed":
            self._stall = self._loop.call_later(self._limits.stall_timeout_s, self._stalled)
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        if self._handler is not None:
            self._handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed()
        handler, self._handler = self._handler, None
        if handler is not None:
            handler.connection_lost(exc)

    # --- what the handler calls ----------------------------------------------------

    def head_complete(self, payload: StreamReader) -> None:
        """A request's head is parsed: its body must be in within ``body_timeout_s``."""
        if self.phase == "closed":
            return
        self._payload = payload
        self._table.busy(self)
        self._enter("request", self._limits.body_timeout_s)

    def answered(self) -> None:
        """An answer was written: wait for the next request (keep-alive)."""
        if self.phase == "closed":
            return
        self._payload = None
        self._table.waiting(self, answered=True)
        self._enter("idle", self._idle_s)

    def keep_for_peer(self) -> None:
        """The request being answered came from a trusted peer (its signature, key and
        nonce checked): from its answer on, the connection may idle
        ``peer_idle_timeout_s``. Caps still push it out first among waiting ones."""
        self._idle_s = self._limits.peer_idle_timeout_s

    # --- phases --------------------------------------------------------------------

    async def _handshake(self, raw: asyncio.Transport, context: ssl.SSLContext) -> None:
        try:
            tls = await self._loop.start_tls(
                raw,
                self,
                context,
                server_side=True,
                # The Guard's own deadline closes it first; this one is a backstop.
                ssl_handshake_timeout=2 * self._limits.handshake_timeout_s,
                ssl_shutdown_timeout=self._limits.handshake_timeout_s,
            )
        except Exception as exc:
            # A handshake that failed, timed out or was cut (start_tls closed the
            # connection): a scanner's or a stranger's, no news worth more than this.
            log.debug("a TLS handshake failed (%s)", type(exc).__name__)
            tls = None
        if tls is None or self.phase == "closed":
            # Lost during the handshake: TLS never calls connection_lost then.
            self._closed()
            if tls is not None:
                tls.abort()
            return
        self._hand_over(tls)

    def _hand_over(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self.handed_over = True
        handler = self._site.make_handler(self)
        self._handler = handler
        self._enter("idle", self._limits.idle_timeout_s)
        handler.connection_made(transport)
        if self._early:
            early, self._early = bytes(self._early), bytearray()
            self.data_received(early)

    def _enter(self, phase: str, seconds: float) -> None:
        self.phase = phase
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_later(seconds, self._deadline)

    def _deadline(self) -> None:
        self._timer = None
        if self.phase == "request" and (self._payload is None or self._payload.is_eof()):
            return  # the body is in: the handler is working, on its own timeouts
        if self.phase == "closed":
            return
        self._table.timed_out += 1
        self.abort()

    def _stalled(self) -> None:
        self._stall = None
        if self.phase != "closed":
            self._table.timed_out += 1
            self.abort()

    def abort(self) -> None:
        """Close the connection now, without flushing (the client is not waited for)."""
        transport = self._transport or self._raw
        self._closed()
        if transport is not None:
            transport.abort()

    def _closed(self) -> None:
        self.phase = "closed"
        for timer in (self._timer, self._stall):
            if timer is not None:
                timer.cancel()
        self._timer = self._stall = None
        self._table.release(self)
        task = self._tls_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()


class GuardedSite(web.BaseSite):
    """A TCP site whose connections pass a ``Guard`` (and TLS, if ``ssl_context``).

    Use it in place of ``web.TCPSite``: ``await GuardedSite(runner, host, port,
    limits=..., ssl_context=...).start()``. ``table`` holds the open connections."""

    __slots__ = ("_bound_port", "_host", "_kwargs", "_port", "limits", "ssl_context", "table")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        limits: ConnectionLimits,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = LISTEN_BACKLOG,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self._bound_port: int | None = None
        self.limits = limits
        # TLS is started by each Guard (start_tls), not by the listening socket.
        self.ssl_context = ssl_context
        self.table = ConnectionTable(limits)
        self._kwargs: dict[str, Any] = {
            # aiohttp's own idle timer counts from the connection's start, head
            # included; the Guard's phases decide, aiohttp's is only a backstop.
            "keepalive_timeout": limits.peer_idle_timeout_s + limits.header_timeout_s,
            "max_line_size": limits.max_line_bytes,
            "max_field_size": limits.max_field_bytes,
            "lingering_time": min(LINGER_S, limits.body_timeout_s),
            "access_log": None,
            "logger": HTTP_LOG,
        }

    @property
    def name(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self._host}:{self.port}"

    @property
    def port(self) -> int:
        return self._bound_port if self._bound_port is not None else self._port

    def make_handler(self, guard: Guard) -> QuietRequestHandler:
        server = self._runner.server
        assert server is not None
        return QuietRequestHandler(server, guard, loop=asyncio.get_running_loop(), **self._kwargs)

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        _observe_heads(server)
        loop = asyncio.get_running_loop()

        def factory() -> Guard:
            return Guard(self)

        self._server = await loop.create_server(
            factory, self._host, self._port, backlog=self._backlog
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port

    async def stop(self) -> None:
        await super().stop()
        self.table.abort_unhandled()


def _observe_heads(server: web.Server) -> None:
    """Tell each connection's Guard when aiohttp has parsed a request head (aiohttp
    makes a request object exactly then)."""
    make = server.request_factory
    if getattr(make, "observes_heads", False):
        return

    def factory(
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: web.RequestHandler,
        writer: AbstractStreamWriter,
        task: asyncio.Task[None],
    ) -> web.BaseRequest:
        request = make(message, payload, protocol, writer, task)
        if isinstance(protocol, QuietRequestHandler):
            protocol.guard.head_complete(payload)
        return request

    factory.observes_heads = True  # type: ignore[attr-defined]
    server.request_factory = factory
