"""A small, real SOCKS5 proxy for tests (RFC 1928: no authentication, CONNECT only).

Rule: it connects only to 127.0.0.1. An IPv4 target must be 127.0.0.1; a domain
name must be one the test mapped (``names``), and it resolves to 127.0.0.1 with the
port the client asked for, as Tor maps an onion address to its service. Anything
else is refused with the SOCKS reply a real proxy would give. It counts the
connections it made and records their targets, so a test can show that traffic
went through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import struct

VERSION = 5
NO_AUTH = 0
NO_ACCEPTABLE_METHOD = 0xFF
CMD_CONNECT = 1
ATYP_IPV4, ATYP_DOMAIN, ATYP_IPV6 = 1, 3, 4
REP_OK = 0
REP_NOT_ALLOWED = 2
REP_HOST_UNREACHABLE = 4
REP_CONNECTION_REFUSED = 5
REP_COMMAND_NOT_SUPPORTED = 7
REP_ADDRESS_NOT_SUPPORTED = 8
LOOPBACK = "127.0.0.1"
PIPE_CHUNK_BYTES = 64 * 1024
HANDSHAKE_TIMEOUT_S = 5.0


class Socks5Server:
    def __init__(self, names: set[str] | None = None) -> None:
        self.names = {n.lower() for n in names or set()}
        self.connections = 0
        self.refused = 0
        self.targets: list[tuple[str, int]] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._streams: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"socks5://{LOOPBACK}:{self.port}"

    async def start(self) -> Socks5Server:
        self._server = await asyncio.start_server(self._handle, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        # Closing the sockets ends every handler on its own. (Cancelling a stream
        # handler task makes Python 3.11's asyncio log a spurious error.)
        for stream in list(self._streams):
            stream.close()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=HANDSHAKE_TIMEOUT_S)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._streams.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            target = await asyncio.wait_for(self._handshake(reader, writer), HANDSHAKE_TIMEOUT_S)
            if target is None:
                self.refused += 1
                return
            host, port = target
            try:
                up_reader, upstream = await asyncio.open_connection(host, port)
                self._streams.add(upstream)
            except OSError:
                await self._reply(writer, REP_CONNECTION_REFUSED)
                self.refused += 1
                return
            await self._reply(writer, REP_OK)
            self.connections += 1
            await asyncio.gather(self._pipe(reader, upstream), self._pipe(up_reader, writer))
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for w in (upstream, writer):
                if w is not None:
                    self._streams.discard(w)
                    w.close()
                    with contextlib.suppress(OSError):
                        await w.wait_closed()
            self._handlers.discard(task)

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[str, int] | None:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if version != VERSION or NO_AUTH not in methods:
            writer.write(bytes([VERSION, NO_ACCEPTABLE_METHOD]))
            await writer.drain()
            return None
        writer.write(bytes([VERSION, NO_AUTH]))
        await writer.drain()
        version, command, _, atyp = await reader.readexactly(4)
        if atyp == ATYP_IPV4:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
            allowed = host == LOOPBACK
        elif atyp == ATYP_DOMAIN:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode("ascii", "replace").lower()
            allowed = host in self.names
        else:
            if atyp == ATYP_IPV6:
                await reader.readexactly(16 + 2)
            await self._reply(writer, REP_ADDRESS_NOT_SUPPORTED)
            return None
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if version != VERSION or command != CMD_CONNECT:
            await self._reply(writer, REP_COMMAND_NOT_SUPPORTED)
            return None
        if not allowed:
            await self._reply(writer, REP_NOT_ALLOWED)
            return None
        self.targets.append((host, port))
        return LOOPBACK, port

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, code: int) -> None:
        writer.write(bytes([VERSION, code, 0, ATYP_IPV4, 0, 0, 0, 0, 0, 0]))
        await writer.drain()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(PIPE_CHUNK_BYTES):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.close()
