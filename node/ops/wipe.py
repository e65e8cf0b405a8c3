"""Panic wipe: destroy a node's data directory so that nothing in it can be read again.

Rule: the wrapped data key goes first (``keys.bin`` and ``data.key``), overwritten
with random bytes, synced and unlinked: from that instant every sealed row, the TLS
key and the signing key are unreadable, even if the rest is interrupted. Then the
database and its WAL, shared-memory and journal files, then every other file in the
directory, are overwritten, synced and unlinked. The directory itself stays, empty.

The overwrite is defence in depth (SQLite's unencrypted metadata: timestamps,
origins, keyed tags); on SSDs and copy-on-write file systems an overwrite may land on
new blocks, which is why the key, not the overwrite, is what protects the data.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from pathlib import Path

from ..files import fsync_dir
from ..keys.keystore import KEYFILE_FILE, KEYSTORE_FILE
from ..keys.tls import KEY_FILE
from ..store.db import DB_FILE

KEY_FILES = (KEYSTORE_FILE, KEYFILE_FILE)
DB_FILES = (DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", f"{DB_FILE}-journal", KEY_FILE)
OVERWRITE_CHUNK_BYTES = 1024 * 1024
# The lock file and the control socket of a running node are left for it to remove.
SPARE = frozenset({"lock", "control.sock"})


def shred(path: Path, pattern: bytes) -> bool:
    """Overwrite ``path`` in place with ``pattern`` repeated, sync, unlink it.

    Returns False if it did not exist. A symlink is unlinked, never followed.
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISREG(info.st_mode) and info.st_size:
        try:
            fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            fd = -1
        if fd >= 0:
            try:
                left = info.st_size
                while left > 0:
                    left -= os.write(fd, pattern[: min(left, len(pattern))])
                os.fsync(fd)
            finally:
                os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return True


def destroy_keys(data_dir: Path) -> int:
    """Step one, the part that matters: the wrapped key and the key file."""
    count = sum(shred(data_dir / name, os.urandom(OVERWRITE_CHUNK_BYTES)) for name in KEY_FILES)
    fsync_dir(data_dir)
    return count


def destroy_rest(data_dir: Path) -> int:
    """Step two: the database files, the TLS key, then every other file."""
    pattern = os.urandom(OVERWRITE_CHUNK_BYTES)
    count = sum(shred(data_dir / name, pattern) for name in DB_FILES)
    for path in sorted(data_dir.rglob("*"), reverse=True):
        if path.name in SPARE and path.parent == data_dir:
            continue
        if path.is_dir() and not path.is_symlink():
            with contextlib.suppress(OSError):
                path.rmdir()
        elif shred(path, pattern):
            count += 1
    fsync_dir(data_dir)
    return count


def wipe_offline(data_dir: Path) -> dict[str, float | int]:
    """Wipe a data directory no node is using. Returns files destroyed and seconds."""
    started = time.monotonic()
    count = destroy_keys(data_dir) + destroy_rest(data_dir)
    for name in SPARE:
        shred(data_dir / name, b"\0")
    return {"files": count, "seconds": round(time.monotonic() - started, 3)}
