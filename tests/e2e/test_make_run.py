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
        text = "".join(lines)
        # Told how to run alertnode, which region numbers are read in, and the admin
        # invite after the card, with the command that makes another one.
        assert ".venv/bin/alertnode" in text and ". .venv/bin/activate" in text
        assert "Region GB" in text and "make run REGION=" in text
        card = next(i for i, x in enumerate(lines) if x.startswith("Node card"))
        invite = next(i for i, x in enumerate(lines) if "First admin invite code" in x)
        assert card < invite
        assert "alertnode invite create --role admin" in "".join(lines[invite:])
        assert not any(x.startswith("Start it with") for x in lines[invite:])
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
            assert response.status == 200
        # Ctrl-C: the node says it stopped.
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert "'Local node' stopped." in out
        # Started again (a restart), it says how to get another admin invite.
        again = subprocess.Popen(
            [str(shutil.which("make")), "--no-print-directory", "run",
             f"DATA={short_tmp / 'data'}", f"WEB={web}", f"FED=127.0.0.1:{free_port()}"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        try:
            assert again.stdout is not None
            seen = [again.stdout.readline() for _ in range(2)]
            assert "alertnode invite create --role admin" in "".join(seen), seen
            # Ctrl-C once the node runs, not while make is starting it: a signal to
            # the group that lands while make spawns its child can reach make alone
            # (seen twice in 450 tries: make waited for a node that never heard it,
            # which a second Ctrl-C stops). That is make's, not the node's.
            while not seen[-1].startswith("Open http://") and seen[-1]:
                seen.append(again.stdout.readline())
            assert seen[-1] == f"Open http://{web}/ in a browser.\n", seen
            os.killpg(again.pid, signal.SIGINT)
            out, _ = again.communicate(timeout=30)
            assert "'Local node' stopped." in out
        finally:
            if again.poll() is None:
                os.killpg(again.pid, signal.SIGKILL)
                again.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.communicate(timeout=30)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_installs_only_what_running_needs(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    dry = [str(shutil.which("make")), "--no-print-directory", "-n", f"VENV={venv}"]
    run = subprocess.run([*dry, "run"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "pip install --quiet -e ." in run.stdout and "[test]" not in run.stdout
    demo = subprocess.run([*dry, "demo"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "[test]" not in demo.stdout
    test = subprocess.run([*dry, "pytest"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "pip install --quiet -e '.[test]'" in test.stdout
