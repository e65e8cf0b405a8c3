"""A node run outside the systemd unit (which sets UMask=0077) creates its files for
its own user only (issue 12, item 11): ``alertnode`` sets umask 077 when it starts,
whatever umask it inherited."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli import RunningNode, alertnode, alertnode_json
from tests.ports import free_port


def loose_modes(data: Path) -> list[str]:
    """Everything under ``data`` (itself included) that its group or others may use."""
    found = []
    for path in [data, *data.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_IMODE(mode) & 0o077:
            found.append(f"{oct(stat.S_IMODE(mode))} {path.relative_to(data.parent)}")
    return found


@pytest.fixture
def lax_umask() -> Iterator[None]:
    """The umask a login shell usually has; the commands inherit it."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.slow
@pytest.mark.usefixtures("lax_umask")
def test_data_files_are_private_after_init_and_run(short_tmp: Path) -> None:
    data = short_tmp / "n"
    alertnode(
        "init", "--data", str(data), "--name", "Private", "--no-passphrase", "--region", "GB",
        "--web", f"127.0.0.1:{free_port()}", "--fed", f"127.0.0.1:{free_port()}",
    )  # fmt: skip
    assert loose_modes(data) == []
    node = RunningNode(data)
    try:
        alertnode_json(
            "alert", "publish", "--data", str(data), "--category", "violence",
            "--danger", "3", "--region", "GB", "--phone", "+447700900123",
        )  # fmt: skip
        # While it runs: the database's WAL and shared-memory files, the socket.
        assert (data / "store.db-wal").exists()
        assert loose_modes(data) == []
    finally:
        node.stop()
    assert loose_modes(data) == []
