"""A locked node has no federation port (docs/protocol.md section 7, "A locked node"):
a connection is refused, as where nothing listens, until the node is unlocked; then a
signed request gets a structured refusal, and after a stop the port is closed again."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import msgpack
import pytest

from node import config as config_mod
from node.app import Node
from node.ops.initialise import init_node
from protocol.request import REQUEST_HEADER

PASSPHRASE = "federation port passphrase 0077"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def post_signed(port: int) -> tuple[int, dict[str, object]]:
    """A request carrying the signature header (not a valid one) to the federation port."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"https://127.0.0.1:{port}/fed/v2/changes",
            data=b"\x80",
            headers={REQUEST_HEADER: "not-base64!"},
            ssl=False,
        ) as resp,
    ):
        return resp.status, msgpack.unpackb(await resp.read(), raw=False)


async def test_a_locked_node_does_not_listen_on_its_federation_port(short_tmp: Path) -> None:
    port = free_port()
    data = short_tmp / "n"
    await init_node(
        data, name="Locked", web="127.0.0.1:0", fed=f"127.0.0.1:{port}", public_url=None,
        region="GB", passphrase=PASSPHRASE,
    )  # fmt: skip
    node = Node(data, config_mod.load(data))
    await node.start(None)
    try:
        assert node.locked
        with pytest.raises(aiohttp.ClientConnectorError):
            await post_signed(port)
        await node.unlock(PASSPHRASE)
        status, refusal = await post_signed(port)
        assert (status, refusal["code"]) == (400, "malformed")
    finally:
        await node.stop()
    with pytest.raises(aiohttp.ClientConnectorError):
        await post_signed(port)
