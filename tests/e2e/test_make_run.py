"""`make run` initialises a local node, starts it and says where to open it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_starts_a_node_and_prints_its_address(short_tmp: Path) -> None:
    web = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [str(shutil.which("make")), "--no-print-directory", "run",
         f"DATA={short_tmp / 'data'}", f"WEB={web}", f"FED=127.0.0.1:{free_port()}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Open http://"):
                break
        url = lines[-1].split()[1]
        assert url == f"http://{web}/"
        assert any("First admin invite code" in x for x in lines)
        # It says which country national numbers are read in, and how to change it.
        assert any("the node's country is GB" in x and "REGION=FR" in x for x in lines)
        assert any("phone_region" in x for x in lines)
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
            assert response.status == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)
