"""free_port picks below the kernel's ephemeral range, so no port-0 bind can take it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests import ports


def test_a_free_port_is_below_the_ephemeral_range_and_bindable() -> None:
    low, _ = ports.ephemeral_range()
    for _ in range(50):
        port = ports.free_port()
        assert ports.LOWEST <= port < low
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_above_the_range_when_it_leaves_no_room_below(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "range"
    fake.write_text("1024\t50000\n")
    monkeypatch.setattr(ports, "EPHEMERAL_RANGE", fake)
    assert ports.ephemeral_range() == (1024, 50000)
    assert all(50000 < ports.free_port() < 65536 for _ in range(20))


def test_a_port_taken_is_not_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", ports.free_port()))
        taken = held.getsockname()[1]
        picks = iter([taken, taken, taken + 1 if taken + 1 < 32768 else taken - 1])
        monkeypatch.setattr(ports._pick, "randrange", lambda a, b: next(picks))
        assert ports.free_port() != taken


def test_ports_asked_together_are_distinct(monkeypatch: pytest.MonkeyPatch) -> None:
    low, _ = ports.ephemeral_range()
    picks = iter([low - 5, low - 5, low - 4, low - 5, low - 3])
    monkeypatch.setattr(ports._pick, "randrange", lambda a, b: next(picks))
    assert ports.free_ports(3) == [low - 5, low - 4, low - 3]
