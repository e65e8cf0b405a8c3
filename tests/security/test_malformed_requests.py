"""What a scanner sends that is not HTTP, or barely (issue 12, item 10): raw bytes on
real sockets to both ports. aiohttp answers a malformed request line or an oversized
header itself, before any application hook; those answers too must carry no
``Server`` header and no word of the software, and nothing may log the client's
address (aiohttp's own error log names it)."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl

import pytest

from node.app import Node
from protocol.request import REQUEST_HEADER
from tests.conftest import NodeFactory
from tests.security.stranger import client_context
from tests.security.test_logs import assert_clean

SIGNED = REQUEST_HEADER.encode()
READ_S = 30.0  # a bound on the test, not a measured duration
GARBAGE = {
    "not HTTP": b"GARBAGE\r\n\r\n",
    "bad method": b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad version": b"GET / HTTP/9.Z\r\nHost: x\r\n\r\n",
    "long request line": b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "oversized header": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
    "header without colon": b"GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
    "bad content length": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "binary": bytes(range(256)) + b"\r\n\r\n",
}
BAD_CHUNKS = (
    b"POST /check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n\r\nzz\r\nnope\r\n0\r\n\r\n"
)
NOT_GZIP = b"this is not gzip" * 8
BAD_GZIP = (
    b"POST /check HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(NOT_GZIP), NOT_GZIP)
)
WELL_FORMED = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
BANNER = re.compile(rb"aiohttp|python|alertnode", re.IGNORECASE)


async def exchange(port: int, tls: bool, data: bytes) -> bytes:
    """Send ``data`` and read everything until the server closes the connection."""
    ctx: ssl.SSLContext | None = client_context() if tls else None
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
    answer = b""
    try:
        writer.write(data)
        await writer.drain()
        while chunk := await asyncio.wait_for(reader.read(65536), READ_S):
            answer += chunk
    except (OSError, ConnectionError):
        pass  # a reset after the answer (unread bytes of ours were left)
    finally:
        writer.close()
    return answer


def head_of(answer: bytes) -> tuple[int, list[bytes]]:
    head = answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    status = int(head[0].split()[1])
    return status, [line.split(b":", 1)[0].strip().lower() for line in head[1:]]


def ports(node: Node) -> dict[str, tuple[int, bool]]:
    assert node.web_site is not None and node.unlocked().trust.site is not None
    return {
        "web": (node.web_site.port, False),
        "federation": (node.unlocked().trust.site.port, True),
    }


async def test_malformed_requests_get_an_anonymous_400_and_leave_no_address_in_the_log(
    make_node: NodeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    node = await make_node("A")
    for where, (port, tls) in ports(node).items():
        for what, data in GARBAGE.items():
            answer = await exchange(port, tls, data)
            status, headers = head_of(answer)
            assert status == 400, (where, what, answer[:200])
            assert b"server" not in headers, (where, what, answer[:300])
            assert not BANNER.search(answer), (where, what, answer[:300])
            assert answer.endswith(b"\r\n\r\n400: Bad Request"), (where, what, answer[-100:])
        # Bodies that break their framing or their compression: refused, anonymously
        # (on the federation port, behind a signature header: unsigned is a 404).
        for body in (BAD_CHUNKS, BAD_GZIP):
            if tls:
                body = body.replace(b"\r\nHost: x", b"\r\nHost: x\r\n%s: x" % SIGNED)
            answer = await exchange(port, tls, body)
            status, headers = head_of(answer)
            assert status == 400 and b"server" not in headers, (where, answer[:300])
            assert not BANNER.search(answer), (where, answer[:300])
        # And a well-formed request, for comparison.
        status, headers = head_of(await exchange(port, tls, WELL_FORMED))
        assert status in (200, 404) and b"server" not in headers, where
    # HTTP in clear to the TLS port: the handshake fails, and nothing names anything.
    answer = await exchange(ports(node)["federation"][0], False, WELL_FORMED)
    assert not BANNER.search(answer) and b"HTTP/" not in answer
    records = caplog.records
    assert any(r.name.startswith("federation.listener") for r in records)  # captured
    for record in records:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        assert_clean(text, f"{record.name}:{record.levelname}")
        # A stranger's garbage is no error of the node's: nothing above debug.
        assert record.levelno < logging.INFO or record.name == "node.app", text
