"""docs/federation.md, "What `peer list` shows", names every key `peer list --json`
gives per peer (scripts outside the project read them)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import NodeFactory
from tests.federation.nodes import pair

DOC = Path(__file__).resolve().parents[2] / "docs" / "federation.md"


async def test_every_peer_list_key_is_documented(make_node: NodeFactory) -> None:
    a, b = await make_node("A"), await make_node("B")
    await pair(a, b)
    [peer] = await a.unlocked().trust.list_peers()
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### What `peer list` shows", 1)[1].split("\n#", 1)[0]
    named = set(re.findall(r'"([a-z_]+)":', section)) | set(re.findall(r"`([a-z_]+)`", section))
    assert "urls" in peer
    assert sorted(set(peer) - named) == [], peer
