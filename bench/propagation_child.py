"""One benchmark node in a process of its own, driven over its stdin and stdout.

``python -m bench.propagation_child DATA``: starts the production ``Node`` on DATA
(made by ``bench.nodes.make_dir``) and answers one JSON object per line:

    {"op": "card"}              -> {"card": text}
    {"op": "add", "card": text} -> {"ok": true}       (peer, relay, share)
    {"op": "arm"}               -> {"ok": true}       (report arrivals from now)
    {"op": "publish", "k": n}   -> {"id": hex, "t0": perf_counter before publishing}
    {"op": "stats"}             -> {"bodies": [[peer hex, item hex, count], ...],
                                    "spared": pulls spared,
                                    "mishaps": {name: count since "arm"}}
    {"op": "stop"}              -> {"ok": true}, then the process ends

Between answers it writes {"arrived": hex, "t": perf_counter} each time its store
commits an alert new to it (publishing included). ``time.perf_counter`` is
CLOCK_MONOTONIC on Linux, one clock for every process of the machine, so the parent
compares the times of different children directly.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from node.app import Node
from node.service import Draft
from protocol.limits import MAX_HOPS

from .nodes import mishaps, start_node, time_arrivals


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def serve(data: Path) -> None:
    try:
        node = await start_node(data)
    except Exception as exc:  # say so, and end: the parent must not wait for us
        _say({"error": f"the node did not start ({type(exc).__name__})"})
        sys.stdout.flush()
        os._exit(1)
    unlocked = node.unlocked()
    seen: Counter[tuple[str, str]] = Counter()
    armed: Counter[str] = Counter()
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            request = json.loads(line)
            op = request["op"]
            if op == "card":
                _say({"card": unlocked.trust.card()})
            elif op == "add":
                await unlocked.trust.add_peer(request["card"], "relay", True, None)
                _say({"ok": True})
            elif op == "arm":
                _arm(node, seen)
                armed = mishaps(node)
                _say({"ok": True})
            elif op == "publish":
                draft = Draft(
                    categories=["violence"],
                    danger=3,
                    region="GB",
                    description=f"propagation alert {request['k']}",
                    hops=MAX_HOPS,
                )
                t0 = time.perf_counter()
                alert_id = await unlocked.alerts.publish(draft)
                _say({"id": alert_id.hex(), "t0": t0})
            elif op == "stats":
                bodies = [[p, i, c] for (p, i), c in seen.items()]
                since = mishaps(node)
                since.subtract(armed)
                spared = unlocked.trust.syncer.pulls_spared
                _say({"bodies": bodies, "spared": spared, "mishaps": dict(since)})
            elif op == "stop":
                break
    finally:
        await node.stop()
    _say({"ok": True})


def _arm(node: Node, seen: Counter[tuple[str, str]]) -> None:
    time_arrivals(node, lambda alert_id, at: _say({"arrived": alert_id.hex(), "t": at}))

    def observe(peer: bytes, item: bytes) -> None:
        seen[(peer.hex(), item.hex())] += 1

    node.unlocked().trust.syncer.observer = observe


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1])))
