"""``alertnode demo``: full propagation over a real trust graph, clean exit on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from node.ops.demo import trust_edges
from tests.e2e.cli import COMMAND

pytestmark = pytest.mark.slow

DEMO_TIMEOUT_S = 90


def test_trust_graph_is_a_ring_with_chords() -> None:
    for n in range(3, 13):
        edges = trust_edges(n)
        assert len(set(edges)) == len(edges)
        degree = [sum(i in e for e in edges) for i in range(n)]
        assert min(degree) >= 2
        if n >= 6:
            assert len(edges) > n  # some chords beyond the ring


def test_demo_reaches_full_propagation_and_cleans_up_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [*COMMAND, "demo", "--nodes", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    deadline = time.monotonic() + DEMO_TIMEOUT_S
    try:
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(lines)
        assert "Full propagation: all 6 alerts reached all 4 nodes" in text, text
        root = Path(re.search(r"demo nodes in (\S+) ", text).group(1))  # type: ignore[union-attr]
        assert root.is_dir()
        for lang in ("en", "fr", "es", "pt", "ro", "ru"):
            assert f"[{lang}]" in text
        invites = re.findall(r"http://127\.0\.0\.1:\d+/\s+invite: [A-Z0-9-]+", text)
        assert len(invites) == 4
        # Caseworker and admin invites as well as members', and what to try on Check.
        staff = re.findall(r"caseworker: [A-Z0-9-]+  admin: [A-Z0-9-]+", text)
        assert len(staff) == 4
        for value in ("+447700900123", "client.demo@example.com", "DEMO 123"):
            assert value in text.split("Try these on any node's Check page")[1]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "Demo stopped" in out
        assert "Traceback" not in err
        assert not root.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
