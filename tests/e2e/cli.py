"""Helpers to drive the real ``alertnode`` command in subprocesses."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node.commands import client as control
from node.errors import NodeError
from node.keys import keystore

COMMAND = [sys.executable, "-m", "node.cli"]
START_TIMEOUT_S = 30
READY_POLL_S = 0.05


def wanted_state(data: Path, extra: tuple[str, ...]) -> str:
    """The state a started node must reach before a test may use it: ``unlocked``
    when it has its key at start (a passphrase file, or key-file mode), else
    ``locked`` (it waits for ``alertnode unlock``)."""
    if "--passphrase-file" in extra or keystore.mode(data) == "keyfile":
        return "unlocked"
    return "locked"


def is_ready(status: dict[str, Any], want: str) -> bool:
    """Unlocked means the store is open and the federation port is listening."""
    if want == "locked":
        return status.get("locked") is True
    return status.get("locked") is False and bool(status.get("federation"))


def ask_status(data: Path) -> dict[str, Any] | None:
    """The node's status through its control socket, or None while it does not answer."""
    if not (data / "control.sock").exists():
        return None
    # In a thread of its own, so that async tests (already in an event loop) can ask too.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            return pool.submit(lambda: asyncio.run(control.call(data, "status"))).result()
        except NodeError:
            return None


def wait_until_ready(
    ask: Callable[[], dict[str, Any] | None],
    want: str,
    exited: Callable[[], str | None],
    *,
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll ``ask`` until the node is in state ``want``; return that status.

    Raises AssertionError if the node exits or is not there by the deadline, saying
    what it last answered (only the locked flag and whether federation listens:
    statuses carry names and keys, which stay out of test output).
    """
    deadline = clock() + timeout_s
    last = "no answer"
    while True:
        failure = exited()
        if failure is not None:
            raise AssertionError(f"node exited before it was {want}: {failure}")
        status = ask()
        if status is not None:
            if is_ready(status, want):
                return status
            last = f"locked={status.get('locked')}, federation={bool(status.get('federation'))}"
        if clock() >= deadline:
            raise AssertionError(f"node not {want} within {timeout_s} s; last answer: {last}")
        sleep(READY_POLL_S)


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
    """``alertnode run`` in a subprocess, stopped with SIGTERM (or killed).

    Returns once the node is in the state the test asked for (see ``wanted_state``),
    not on its first answer: a node given a key answers "locked" until it has
    unlocked and started federation.
    """

    def __init__(self, data: Path, *extra: str) -> None:
        self.data = data
        want = wanted_state(data, extra)
        self.proc = subprocess.Popen(
            [*COMMAND, "run", "--data", str(data), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            self.status = wait_until_ready(
                lambda: ask_status(data), want, self._exited, timeout_s=START_TIMEOUT_S
            )
        except AssertionError as exc:
            log = self.stop()
            raise AssertionError(f"{exc}\nthe node's log (its end):\n{log[-3000:]}") from None

    def _exited(self) -> str | None:
        if self.proc.poll() is None:
            return None
        return f"exit code {self.proc.returncode}: {self.proc.stderr.read()}"  # type: ignore[union-attr]

    def stop(self) -> str:
        """SIGTERM and wait; returns what the node wrote to stderr (its log)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            try:
                _, err = self.proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                raise AssertionError("the node's child processes outlived it") from None
        return err

    def kill(self) -> None:
        self.proc.kill()
        try:
            self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            # Only a process the node started can still hold its output open.
            raise AssertionError("the killed node's child processes outlived it") from None


def start_all(*dirs: Path) -> list[RunningNode]:
    """A node running on each of ``dirs``, started in order; if one does not start,
    the ones already running are stopped, so that none outlives the test."""
    running: list[RunningNode] = []
    try:
        for data in dirs:
            running.append(RunningNode(data))
    except BaseException:
        for node in running:
            node.stop()
        raise
    return running
