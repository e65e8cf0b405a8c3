"""Shared fixtures: short temporary data directories and in-process nodes."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from node import config as config_mod
from node.app import Node
from node.ops.initialise import init_node


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temporary directory with a short path (Unix sockets allow ~100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="an-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


NodeFactory = Callable[..., Awaitable[Node]]


@pytest.fixture
async def make_node(short_tmp: Path) -> AsyncIterator[NodeFactory]:
    """Start in-process nodes (key-file mode, ephemeral ports); stopped at teardown."""
    started: list[Node] = []

    async def factory(name: str = "Test node", region: str = "GB", **kw: object) -> Node:
        data = short_tmp / f"n{len(started)}"
        passphrase = kw.pop("passphrase", None)
        await init_node(
            data,
            name=name,
            web="127.0.0.1:0",
            fed="127.0.0.1:0",
            public_url=kw.pop("public_url", None),  # type: ignore[arg-type]
            region=region,
            passphrase=passphrase,  # type: ignore[arg-type]
            allow_http=bool(kw.pop("allow_http", False)),
        )
        node = Node(data, config_mod.load(data), **kw)  # type: ignore[arg-type]
        await node.start(passphrase)  # type: ignore[arg-type]
        started.append(node)
        return node

    async def restart(node: Node, **kw: object) -> Node:
        """Stop ``node`` and start a new Node on the same data directory."""
        await node.stop()
        again = Node(node.data_dir, config_mod.load(node.data_dir), **kw)  # type: ignore[arg-type]
        await again.start(kw.pop("passphrase", None))  # type: ignore[arg-type]
        started.append(again)
        return again

    factory.restart = restart  # type: ignore[attr-defined]
    yield factory
    for node in started:
        await node.stop()
