"""Helpers to drive the real ``alertnode`` command in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

COMMAND = [sys.executable, "-m", "node.cli"]
START_TIMEOUT_S = 30


def alertnode(
    *args: str, check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run one ``alertnode`` command and return its result."""
    result = subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"alertnode {args[0]} failed: {result.stderr}")
    return result


def declared_output(args: tuple[str, ...]) -> tuple[str, ...]:
    """The top-level keys the command table declares for the command ``args`` name."""
    from node.commands.cli import TABLE

    for command in TABLE:
        if command.cli and args[: len(command.words)] == command.words:
            return command.output
    raise AssertionError(f"no command in the table for {args[:2]}")


def alertnode_json(*args: str) -> dict[str, Any]:
    """Run a command with --json; its answer must hold the keys the table declares."""
    out: dict[str, Any] = json.loads(alertnode(*args, "--json").stdout)
    missing = set(declared_output(args)) - set(out)
    assert not missing, f"alertnode {' '.join(args[:2])} --json lacks {sorted(missing)}"
    return out


class RunningNode:
    """``alertnode run`` in a subprocess, stopped with SIGTERM (or killed)."""

    def __init__(self, data: Path, *extra: str) -> None:
        self.data = data
        self.proc = subprocess.Popen(
            [*COMMAND, "run", "--data", str(data), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"node exited: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            if (data / "control.sock").exists():
                result = alertnode("status", "--data", str(data), "--json", check=False)
                if result.returncode == 0:
                    self.status = json.loads(result.stdout)
                    return
            time.sleep(0.1)
        self.stop()
        raise AssertionError("node did not start in time")

    def stop(self) -> str:
        """SIGTERM and wait; returns what the node wrote to stderr (its log)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err

    def kill(self) -> None:
        self.proc.kill()
        self.proc.communicate()
