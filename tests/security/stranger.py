"""A stranger who holds a node's connections open, run in a process of its own (so
its sockets do not count against the node's open-file limit).

``python -m tests.security.stranger PLAN`` where PLAN is JSON: ``{"targets": [{"port":
P, "tls": bool}], "addresses": ["127.0.0.2", ...], "each": N}``. For every target and
every source address it opens N connections to 127.0.0.1, in turn: idle (over TLS,
the handshake done, then silence), half-open (TCP only, not a byte sent) and
tricklers (a request head that never ends, a byte every TRICKLE_S). It prints one
line ``ready OPENED FAILED`` and keeps trickling until it is terminated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import ssl
import sys
from typing import Any

TRICKLE_S = 0.5
HOST = "127.0.0.1"


def client_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def trickle(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ConnectionError):
        writer.write(b"POST /fed/v2/feed HTTP/1.1\r\nHost: node\r\nX-Slow: ")
        while True:
            await asyncio.sleep(TRICKLE_S)
            writer.write(b"a")
            await writer.drain()


async def one(
    port: int, tls: bool, source: str, kind: str, held: list[Any], tasks: set[Any]
) -> bool:
    try:
        ctx = client_context() if tls and kind != "half-open" else None
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, port, ssl=ctx, local_addr=(source, 0)), 5
        )
    except (OSError, TimeoutError):
        return False
    held.append((reader, writer))
    if kind == "trickle":
        task = asyncio.get_running_loop().create_task(trickle(writer))
        tasks.add(task)
    return True


async def main(plan: dict[str, Any]) -> None:
    held: list[Any] = []
    tasks: set[Any] = set()
    kinds = ("idle", "half-open", "trickle")
    jobs = []
    for target in plan["targets"]:
        for source in plan["addresses"]:
            for n in range(plan["each"]):
                kind = kinds[n % len(kinds)]
                jobs.append(one(target["port"], target["tls"], source, kind, held, tasks))
    opened = 0
    # In small groups: a real stranger is not slowed by its own handshakes either.
    for start in range(0, len(jobs), 32):
        results = await asyncio.gather(*jobs[start : start + 32])
        opened += sum(results)
    print(f"ready {opened} {len(jobs) - opened}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    # The node's test lowers its own open-file limit, and this process inherits it.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(json.loads(sys.argv[1])))
