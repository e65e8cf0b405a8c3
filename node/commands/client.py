"""The client side of the control socket: send one command to a running node.

Rule: the socket is ``control.sock`` in the data directory (mode 0600); every answer
is a JSON object, and a refusal becomes a NodeError carrying the node's own sentence
(exit code 2 for a bad argument, 1 otherwise). Nothing here knows any command.

The request is one HTTP/1.1 POST written by hand over the Unix socket, and the
answer is read to the end of the connection (``Connection: close``), bounded by
``MAX_ANSWER_BYTES``: every ``alertnode`` command pays for this client, and an HTTP
client library would double the time a command takes to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from ..errors import NodeError, NotRunning

CLIENT_TIMEOUT_S = 120
SOCKET_FILE = "control.sock"
# The largest answer a command gives is a full alert list; far below this.
MAX_ANSWER_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 64 * 1024


def _not_running(data_dir: Path) -> NotRunning:
    return NotRunning(f"no node is running on {data_dir}; start it with 'alertnode run'")


async def call(data_dir: Path, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Send command ``name`` to the node running on ``data_dir``.

    Raises NotRunning, or NodeError with the node's own sentence.
    """
    sock = data_dir / SOCKET_FILE
    if not sock.exists():
        raise _not_running(data_dir)
    body = json.dumps(args or {}).encode()
    request = (
        f"POST /v1/{name} HTTP/1.1\r\nHost: alertnode\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body
    try:
        async with asyncio.timeout(CLIENT_TIMEOUT_S):
            reader, writer = await asyncio.open_unix_connection(str(sock))
            try:
                writer.write(request)
                await writer.drain()
                raw = await _read_all(reader)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except TimeoutError:
        raise NodeError(f"the node did not answer within {CLIENT_TIMEOUT_S} s") from None
    except OSError:
        raise _not_running(data_dir) from None
    status, answer = _parse(raw)
    if status >= 300:
        error = NodeError(str(answer.get("error", "the node refused the command")))
        error.exit_code = 2 if status == 400 else 1
        raise error
    return answer


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := await reader.read(_READ_CHUNK):
        total += len(chunk)
        if total > MAX_ANSWER_BYTES:
            raise NotRunning("the control socket answered with something unexpected")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(raw: bytes) -> tuple[int, dict[str, Any]]:
    """The status and JSON object of a whole HTTP/1.1 answer. Raises NotRunning."""
    unexpected = NotRunning("the control socket answered with something unexpected")
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise unexpected
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _unchunk(body, unexpected)
    elif "content-length" in headers:
        length = headers["content-length"]
        if not length.isdigit() or len(body) < int(length):
            raise unexpected
        body = body[: int(length)]
    try:
        answer = json.loads(body)
    except ValueError:
        raise unexpected from None
    if not isinstance(answer, dict):
        raise unexpected
    return int(parts[1]), answer


def _unchunk(body: bytes, unexpected: NotRunning) -> bytes:
    out: list[bytes] = []
    while True:
        size_line, sep, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            raise unexpected from None
        if not sep or size < 0 or len(rest) < size:
            raise unexpected
        if size == 0:
            return b"".join(out)
        out.append(rest[:size])
        body = rest[size + 2 :]
