"""Connections held open (issue 12, item 2), on real sockets on loopback.

A stranger, in a process of its own and from other loopback addresses, holds
hundreds of idle TLS connections, half-open TCP connections and tricklers on both
ports of a node whose open-file limit is a little above its connection caps (the
review's attack ended in EMFILE: the web app timed out and peers' syncs failed).
Meanwhile a member's pages load and a peer's signed sync succeeds. Then each kind of
slow client meets its deadline: the server closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import resource
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nacl.signing
import pytest

from federation.connections import ConnectionLimits, ConnectionTable
from federation.errors import PeerRefused
from federation.https import HttpsTransport
from node.app import Node
from protocol import feed
from protocol.request import REQUEST_HEADER
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually, has_alert, pair
from tests.security.stranger import client_context
from tests.security.test_logs import Browser

ROOT = Path(__file__).resolve().parent.parent.parent
# Held-open test: deadlines far beyond the test, caps well below the file limit.
CAPPED = ConnectionLimits(
    handshake_timeout_s=120,
    idle_timeout_s=120,
    header_timeout_s=120,
    body_timeout_s=120,
    max_connections=100,
    max_per_address=30,
)
STRANGER_ADDRESSES = [f"127.0.0.{n}" for n in range(2, 10)]
STRANGER_EACH = 40  # per address and port: 320 a port, 640 in all
# Open files the node may use beyond its two ports' caps (SQLite, the peer's own
# node in this process, the member's and the peer's connections, aiohttp, logging).
SPARE_FILES = 150
# Deadline test: short deadlines (the handshake a little longer: TLS on a busy
# two-core machine is not instant).
QUICK = ConnectionLimits(
    handshake_timeout_s=2.0,
    idle_timeout_s=1.0,
    header_timeout_s=1.0,
    body_timeout_s=1.0,
    stall_timeout_s=1.0,
    max_connections=64,
    max_per_address=32,
)
# Peer test: a connection idles 1 s, a trusted peer's 4 s.
PEERS_KEPT = ConnectionLimits(
    handshake_timeout_s=5.0,
    idle_timeout_s=1.0,
    peer_idle_timeout_s=4.0,
    header_timeout_s=2.0,
    body_timeout_s=2.0,
    stall_timeout_s=2.0,
)
# How long a test waits for the server to close a slow client before failing: a
# bound on the test, not a measured duration.
CLOSE_WITHIN_S = 30.0
# Requests for the home page a slow reader sends: answers of many megabytes, more
# than the kernel's socket buffers on loopback hold.
PIPELINED = 4000


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


@contextlib.contextmanager
def open_file_limit(limit: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextlib.asynccontextmanager
async def stranger(ports: list[tuple[int, bool]]) -> AsyncIterator[str]:
    """The stranger's process, holding its connections until the block ends."""
    plan = {
        "targets": [{"port": port, "tls": tls} for port, tls in ports],
        "addresses": STRANGER_ADDRESSES,
        "each": STRANGER_EACH,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.security.stranger", json.dumps(plan),
        cwd=ROOT, stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 240)
        assert line.startswith(b"ready"), line
        yield line.decode().strip()
    finally:
        proc.terminate()
        await proc.wait()


def fed_port(node: Node) -> int:
    site = node.unlocked().trust.site
    assert site is not None
    return site.port


def web_port(node: Node) -> int:
    assert node.web_site is not None
    return node.web_site.port


async def test_members_and_peers_get_through_while_a_stranger_holds_connections(
    make_node: NodeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    a = await make_node("A", web_limits=CAPPED, fed_limits=CAPPED)
    b = await make_node("B")
    await pair(a, b)
    store = a.unlocked().store
    now = a.clock.now()
    invite = str(await store.members.create_invite("member", now + 86400, now))
    member = Browser(a.web_url)
    signup = {"invite": invite, "nickname": "member1", "passphrase": "x" * 16}
    assert await member.post("/signup", {**signup, "passphrase2": "x" * 16}) == 303
    first = await a.unlocked().alerts.publish(draft(1))
    await b.unlocked().trust.sync_now()
    assert await has_alert(b, first)
    budget = open_files() + 2 * CAPPED.max_connections + SPARE_FILES
    try:
        with open_file_limit(budget):
            async with stranger([(web_port(a), False), (fed_port(a), True)]) as ready:
                # The stranger got some connections and holds them...
                assert int(ready.split()[1]) > 0, ready
                # ...while a member's pages load and her check runs,
                status, page = await asyncio.wait_for(member.get("/check"), 60)
                assert status == 200 and 'name="value"' in page
                check = {"kind": "phone", "value": "+447700900123"}
                assert await asyncio.wait_for(member.post("/check", check), 60) == 200
                # and a peer's signed sync brings a new alert across.
                second = await a.unlocked().alerts.publish(draft(2))
                results = await asyncio.wait_for(b.unlocked().trust.sync_now(), 60)
                assert [r["error"] for r in results] == [None], results
                await eventually(lambda: has_alert(b, second))
                # The node held no more than its caps; the rest was pushed out.
                tables = [a.web_site.table, a.unlocked().trust.site.table]  # type: ignore[union-attr]
                for table in tables:
                    assert len(table) <= CAPPED.max_connections
                    assert table.evicted + table.refused > 0
    finally:
        await member.close()
    # Nothing ran out of open files, and the log did not fill up.
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# --- each slow client meets its deadline --------------------------------------------


async def closed_by_server(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, drip: bytes = b""
) -> bool:
    """Read (dripping ``drip`` a byte at a time, if any) until the server closes the
    connection; False if it is still open after CLOSE_WITHIN_S."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + CLOSE_WITHIN_S
    sent = 0
    try:
        while loop.time() < give_up:
            if drip:
                writer.write(drip[sent % len(drip) : sent % len(drip) + 1])
                sent += 1
                await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(65536), 0.1)
            except TimeoutError:
                continue
            if not data:
                return True
    except (OSError, ConnectionError):
        return True
    return False


async def connect(port: int, tls: bool) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    ctx: ssl.SSLContext | None = client_context() if tls else None
    return await asyncio.open_connection("127.0.0.1", port, ssl=ctx)


HEAD = b"POST /check HTTP/1.1\r\nHost: node\r\nContent-Type: application/x-www-form-urlencoded\r\n"


async def test_slow_and_idle_connections_are_closed_by_the_server(
    make_node: NodeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    a = await make_node("A", web_limits=QUICK, fed_limits=QUICK)
    tables = {
        "web": a.web_site.table,  # type: ignore[union-attr]
        "federation": a.unlocked().trust.site.table,  # type: ignore[union-attr]
    }
    ports = {"web": (web_port(a), False), "federation": (fed_port(a), True)}

    async def meets_its_deadline(
        where: str, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], drip: bytes = b""
    ) -> bool:
        """Whether the server closed the connection, and did so at a deadline."""
        before = tables[where].timed_out
        reader, writer = conn
        closed = await closed_by_server(reader, writer, drip)
        writer.close()
        return closed and tables[where].timed_out == before + 1

    # Half-open on the TLS port: connected, not a byte of a handshake.
    half_open = await asyncio.open_connection("127.0.0.1", ports["federation"][0])
    assert await meets_its_deadline("federation", half_open)
    for where, (port, tls) in ports.items():
        # Idle: connected (TLS done), nothing sent.
        assert await meets_its_deadline(where, await connect(port, tls)), (where, "idle")
        # A head that never ends, a byte at a time.
        head = HEAD + b"X-Slow: " + b"a" * 10_000
        assert await meets_its_deadline(where, await connect(port, tls), head), (where, "head")
        # A complete head, then a body a byte at a time (on the federation port with a
        # signature header: a request without one is answered before its body).
        reader, writer = await connect(port, tls)
        signed = b"%s: x\r\n" % REQUEST_HEADER.encode() if tls else b""
        writer.write(HEAD + signed + b"Content-Length: 4000\r\n\r\n")
        assert await meets_its_deadline(where, (reader, writer), b"v" * 4000), (where, "body")
        # Idle after an answer (keep-alive).
        reader, writer = await connect(port, tls)
        writer.write(b"GET / HTTP/1.1\r\nHost: node\r\n\r\n")
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CLOSE_WITHIN_S)
        assert answer.startswith(b"HTTP/1.1 ")
        assert await meets_its_deadline(where, (reader, writer)), (where, "kept alive")
    # A client that asks and asks and never reads its answers.
    before = tables["web"].timed_out
    sock = await stop_reading(ports["web"][0])
    try:
        await eventually(lambda: _grew(tables["web"], before), CLOSE_WITHIN_S)
    finally:
        sock.close()
    for table in tables.values():
        await eventually(lambda table=table: _empty(table))  # type: ignore[misc]
    # A stranger's trickling is no error of the node's: nothing above debug.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_trusted_peers_connection_stays_open_longer_than_a_strangers(
    make_node: NodeFactory,
) -> None:
    """The connection a peer's request came in on idles ``peer_idle_timeout_s`` (so
    the next alert finds it open); one that carried a request signed by a key A does
    not trust idles ``idle_timeout_s`` like any other."""
    a = await make_node("A", fed_limits=PEERS_KEPT)
    b = await make_node("B")
    pa, pb = a.unlocked().trust, b.unlocked().trust
    # A trusts B; B knows A but does not pull from it (accept=none): no worker's
    # request of B's opens a connection to A behind the test's back.
    await pa.add_peer(pb.card(), "relay", True, None)
    await pb.add_peer(pa.card(), "none", True, None)
    a_key = bytes(pa.server_state.key.verify_key)
    peer_a = await b.unlocked().store.peers.get(a_key)
    assert peer_a is not None
    table = pa.site.table  # type: ignore[union-attr]
    clock = b.clock
    changes = feed.encode_changes_request(feed.ChangesRequest(0, 10))

    async def ask(key: nacl.signing.SigningKey) -> HttpsTransport:
        transport = HttpsTransport(key, clock)
        with contextlib.suppress(PeerRefused):
            await transport.post(peer_a, "/changes", changes, feed.MAX_CHANGES_RESPONSE_BYTES)
        return transport

    async def closed_by_deadline(before: int) -> bool:
        return len(table) == 0 and table.timed_out == before + 1

    # A stranger's key: refused, and its connection closed at the plain idle deadline.
    before = table.timed_out
    stranger = await ask(nacl.signing.SigningKey.generate())
    try:
        assert len(table) == 1
        await eventually(lambda: closed_by_deadline(before), CLOSE_WITHIN_S)
    finally:
        await stranger.close()
    # B's key: answered, and its connection still open well past the plain deadline...
    before = table.timed_out
    peer = await ask(pb.server_state.key)
    try:
        assert len(table) == 1
        await asyncio.sleep(2 * PEERS_KEPT.idle_timeout_s)
        assert len(table) == 1 and table.timed_out == before
        # ...and B's next request goes out on it: no new connection is counted.
        await peer.post(peer_a, "/changes", changes, feed.MAX_CHANGES_RESPONSE_BYTES)
        assert len(table) == 1 and table.timed_out == before
        # Past the peer's idle deadline, the server closes it all the same.
        await eventually(lambda: closed_by_deadline(before), CLOSE_WITHIN_S)
    finally:
        await peer.close()


async def stop_reading(port: int) -> socket.socket:
    """Pipeline requests for pages on a connection that reads nothing back: their
    answers fill every buffer on the way."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    for _ in range(PIPELINED):
        try:
            await asyncio.wait_for(loop.sock_sendall(sock, request), 0.5)
        except (TimeoutError, ConnectionError):
            # The server stopped reading (it is blocked on its answers), or has
            # already closed the connection for it.
            break
    return sock


async def _grew(table: ConnectionTable, before: int) -> bool:
    return table.timed_out > before


async def _empty(table: ConnectionTable) -> bool:
    return len(table) == 0
