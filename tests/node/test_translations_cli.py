"""`alertnode translations export|import` on the control socket: a catalogue exported,
edited by the organisation's translators and imported back, applied at once."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from babel.messages.pofile import read_po, write_po

from node.app import Node
from node.web import web_app
from tests.conftest import NodeFactory


class Socket:
    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    async def call(self, name: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        async with self.http.post(f"http://alertnode/v1/{name}", json=args) as resp:
            return resp.status, json.loads(await resp.text())


@pytest.fixture
async def node_socket(make_node: NodeFactory) -> AsyncIterator[tuple[Node, Socket]]:
    node = await make_node("A")
    connector = aiohttp.UnixConnector(path=str(node.data_dir / "control.sock"))
    async with aiohttp.ClientSession(connector=connector) as http:
        yield node, Socket(http)


async def test_export_edit_import_applies_without_a_restart(
    node_socket: tuple[Node, Socket], tmp_path: Path
) -> None:
    node, socket = node_socket
    server = TestServer(web_app(node, (), node.overrides))
    await server.start_server()
    try:
        out = tmp_path / "fr.po"
        status, answer = await socket.call("translations.export", {"lang": "fr", "out": str(out)})
        assert status == 200 and answer["out"] == str(out) and answer["overrides"] == 0
        assert "sex worker = " in out.read_text(encoding="utf-8")  # the glossary
        catalog = read_po(io.BytesIO(out.read_bytes()))
        catalog["Log in"].string = "Entrer ici"
        catalog["Check"].string = "<script>x</script>Vérifier"
        edited = io.BytesIO()
        write_po(edited, catalog)
        out.write_bytes(edited.getvalue())
        # A dry run previews and changes nothing.
        args = {"lang": "fr", "file": str(out), "dry_run": True}
        status, answer = await socket.call("translations.import", args)
        assert status == 200 and answer["applied"] is False
        assert answer["changed"] == 1 and answer["refused"] == 1
        change = answer["changes"][0]
        assert change["msgid"] == "Log in" and change["after"] == "Entrer ici"
        assert "adds HTML" in answer["refusals"][0]["reason"]
        async with aiohttp.ClientSession() as http:
            url = server.make_url("/login")
            async with http.get(url, headers={"Accept-Language": "fr"}) as resp:
                assert "Entrer ici" not in await resp.text()
            status, answer = await socket.call("translations.import", {**args, "dry_run": False})
            assert status == 200 and answer["applied"] is True
            async with http.get(url, headers={"Accept-Language": "fr"}) as resp:
                html = await resp.text()
            assert "Entrer ici" in html and "<script>x" not in html
        # Kept in the data directory, so a restarted node has it too; exported back.
        assert (node.data_dir / "translations" / "fr.json").is_file()
        status, answer = await socket.call("translations.export", {"lang": "fr"})
        assert answer["overrides"] == 1 and 'msgstr "Entrer ici"' in answer["po"]
    finally:
        await server.close()


async def test_import_refuses_what_is_not_a_catalogue(
    node_socket: tuple[Node, Socket], tmp_path: Path
) -> None:
    _, socket = node_socket
    junk = tmp_path / "junk.po"
    junk.write_bytes(b'msgid "x\n\xff\xfe')
    status, answer = await socket.call("translations.import", {"lang": "fr", "file": str(junk)})
    assert status == 400 and "not a readable .po" in answer["error"]
    status, answer = await socket.call("translations.import", {"lang": "en", "file": str(junk)})
    assert status == 400
