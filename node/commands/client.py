"""The client side of the control socket: send one command to a running node.

Rule: the socket is ``control.sock`` in the data directory (mode 0600); every answer
is a JSON object, and a refusal becomes a NodeError carrying the node's own sentence
(exit code 2 for a bad argument, 1 otherwise). Nothing here knows any command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from ..errors import NodeError, NotRunning

CLIENT_TIMEOUT_S = 120
SOCKET_FILE = "control.sock"


async def call(data_dir: Path, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Send command ``name`` to the node running on ``data_dir``.

    Raises NotRunning, or NodeError with the node's own sentence.
    """
    sock = data_dir / SOCKET_FILE
    if not sock.exists():
        raise NotRunning(f"no node is running on {data_dir}; start it with 'alertnode run'")
    connector = aiohttp.UnixConnector(path=str(sock))
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            session.post(f"http://alertnode/v1/{name}", json=args or {}) as resp,
        ):
            body = await resp.json()
    except (aiohttp.ClientConnectionError, FileNotFoundError, ConnectionRefusedError):
        raise NotRunning(
            f"no node is running on {data_dir}; start it with 'alertnode run'"
        ) from None
    except aiohttp.ContentTypeError:
        raise NotRunning("the control socket answered with something unexpected") from None
    if resp.status >= 300:
        error = NodeError(str(body.get("error", "the node refused the command")))
        error.exit_code = 2 if resp.status == 400 else 1
        raise error
    return body  # type: ignore[no-any-return]
