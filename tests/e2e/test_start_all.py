"""``start_all`` leaves no node running when one of them does not start (a node left
behind by a failed test once ran on for the rest of the suite)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from tests.e2e import cli


class FakeNode:
    started: ClassVar[list[FakeNode]] = []

    def __init__(self, data: Path) -> None:
        if data.name == "bad":
            raise AssertionError("node not unlocked within 30 s")
        self.data = data
        self.stopped = False
        FakeNode.started.append(self)

    def stop(self) -> str:
        self.stopped = True
        return ""


def test_the_nodes_started_before_one_that_fails_are_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "RunningNode", FakeNode)
    FakeNode.started = []
    with pytest.raises(AssertionError, match="not unlocked"):
        cli.start_all(Path("a"), Path("b"), Path("bad"), Path("c"))
    assert [n.data.name for n in FakeNode.started] == ["a", "b"]
    assert all(n.stopped for n in FakeNode.started)
    FakeNode.started = []
    running = cli.start_all(Path("a"), Path("b"))
    assert [n.data.name for n in running] == ["a", "b"]
    assert not any(n.stopped for n in running)
