"""Encrypted backups of a whole node, taken while it runs, and their restore.

Rule: a backup is one file that opens with the node's admin passphrase and nothing
else, and a restore either yields a complete, verified node or writes nothing.

File layout::

    MAGIC                      b"alertnode-backup\\n"
    u32 big-endian             length of the header
    header (msgpack map, clear text)
        v, keys (the node's keys.bin: the wrapped data key and the sealed signing
        key, both already encrypted), body_salt (random, per backup),
        stream (the secretstream header), chunk
    chunks, each: u32 length || XChaCha20-Poly1305 secretstream message

The body key is BLAKE2b(data key, per-backup salt): the passphrase unwraps the data
key exactly as it unlocks the node. The body is a tar stream (node.json, tls.crt,
tls.key, the SQLite snapshot, manifest.json) cut into chunks by libsodium's
secretstream: each chunk is authenticated in order, with SHA-256 of the magic and
header as associated data (a changed header fails the first chunk), and the last
chunk carries the FINAL tag, so a truncated file is refused, as is anything after it.

The snapshot comes from a second, read-only SQLite connection (``VACUUM INTO``),
which in WAL mode reads one consistent state without stopping the node's writes.
Key-file (development) nodes are refused: their backup would open with a file kept
beside it, not a passphrase.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import sqlite3
import struct
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import msgpack
import nacl.bindings as sodium
import nacl.exceptions

from ..config import CONFIG_FILE
from ..errors import NotANode, UsageError
from ..files import fsync_dir
from ..keys import keystore
from ..keys.tls import CERT_FILE, KEY_FILE
from ..store.db import DB_FILE

MAGIC = b"alertnode-backup\n"
FORMAT_VERSION = 1
CHUNK_BYTES = 64 * 1024
MAX_HEADER_BYTES = 4096
MAX_CHUNK_BYTES = CHUNK_BYTES + sodium.crypto_secretstream_xchacha20poly1305_ABYTES
MAX_MEMBER_BYTES = 64 * 1024**3
MANIFEST = "manifest.json"
SNAPSHOT_BUSY_TIMEOUT_MS = 10_000
_PERSON = b"alertnode-bkp-v1"
_TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
# What a backup holds, in this order; the store goes last, as it is the big one.
# (keys.bin travels in the authenticated clear header, as it opens the rest.)
SMALL_FILES = (CONFIG_FILE, CERT_FILE, KEY_FILE)
MEMBERS = frozenset({*SMALL_FILES, DB_FILE, MANIFEST})
DAMAGED = "the backup file is damaged or incomplete (truncated?); nothing was restored"


def _body_key(data_key: bytes, salt: bytes) -> bytes:
    return hashlib.blake2b(
        b"backup body", key=data_key, salt=salt, person=_PERSON, digest_size=32
    ).digest()


class _SealingWriter(io.RawIOBase):
    """A write-only file that seals what it is given into secretstream chunks."""

    def __init__(self, out: IO[bytes], key: bytes) -> None:
        super().__init__()
        self._out = out
        # Set before the first write: the hash of the file's clear prefix.
        self.ad = b""
        self._buf = bytearray()
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        self.stream_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(
            self._state, key
        )

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buf += bytes(data)
        while len(self._buf) > CHUNK_BYTES:
            self._push(bytes(self._buf[:CHUNK_BYTES]), _TAG_MESSAGE)
            del self._buf[:CHUNK_BYTES]
        return len(data)

    def _push(self, chunk: bytes, tag: int) -> None:
        sealed = sodium.crypto_secretstream_xchacha20poly1305_push(self._state, chunk, self.ad, tag)
        self._out.write(struct.pack(">I", len(sealed)) + sealed)

    def finish(self) -> None:
        self._push(bytes(self._buf), _TAG_FINAL)
        self._buf.clear()


class _OpeningReader(io.RawIOBase):
    """A read-only file that opens secretstream chunks; raises UsageError(DAMAGED)."""

    def __init__(self, src: IO[bytes], key: bytes, stream_header: bytes, ad: bytes) -> None:
        super().__init__()
        self._src = src
        self._ad = ad
        self._buf = b""
        self.finished = False
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        try:
            sodium.crypto_secretstream_xchacha20poly1305_init_pull(self._state, stream_header, key)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise UsageError(DAMAGED) from None

    def readable(self) -> bool:
        return True

    def _pull(self) -> None:
        head = self._src.read(4)
        if len(head) != 4:
            raise UsageError(DAMAGED)
        (size,) = struct.unpack(">I", head)
        sealed = self._src.read(size) if size <= MAX_CHUNK_BYTES else b""
        if not sealed or len(sealed) != size:
            raise UsageError(DAMAGED)
        try:
            chunk, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                self._state, sealed, self._ad
            )
        except (nacl.exceptions.CryptoError, ValueError):
            raise UsageError(DAMAGED) from None
        self._buf += chunk
        if tag == _TAG_FINAL:
            self.finished = True
            if self._src.read(1):
                raise UsageError(DAMAGED)

    def readinto(self, target: Any) -> int:
        while not self._buf and not self.finished:
            self._pull()
        n = min(len(target), len(self._buf))
        target[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def drain(self) -> None:
        """Read to the end, so that a missing final chunk is noticed."""
        while not self.finished:
            self._pull()
        if self._buf.strip(b"\0"):
            raise UsageError(DAMAGED)


# --- create --------------------------------------------------------------------------


def snapshot(data_dir: Path, target: Path) -> dict[str, int]:
    """A consistent copy of the live store, taken on a separate read-only connection."""
    uri = f"{(data_dir / DB_FILE).as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout={SNAPSHOT_BUSY_TIMEOUT_MS}")
        conn.execute("VACUUM INTO ?", (str(target),))
    finally:
        conn.close()
    copy = sqlite3.connect(target)
    try:
        row = copy.execute(
            "SELECT (SELECT COUNT(*) FROM alerts WHERE state = 'active'),"
            " (SELECT COALESCE(MAX(pos), 0) FROM log), (SELECT COUNT(*) FROM peers),"
            " (SELECT COUNT(*) FROM members)"
        ).fetchone()
    finally:
        copy.close()
    return {"alerts": row[0], "log_position": row[1], "peers": row[2], "members": row[3]}


def _add(tar: tarfile.TarFile, name: str, data: bytes | None, path: Path | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.mode = 0o600
    if path is not None:
        info.size = path.stat().st_size
        with path.open("rb") as f:
            tar.addfile(info, f)
    else:
        assert data is not None
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def create(
    data_dir: Path,
    data_key: bytes,
    out: Path,
    now: int,
    *,
    after_snapshot: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Write an encrypted backup of the node in ``data_dir`` to ``out``.

    ``after_snapshot`` runs once the snapshot is taken, before the file is written
    (tests hold the backup there while the node keeps writing). Blocking: call it in
    a thread. Raises UsageError.
    """
    if not out.is_absolute():
        raise UsageError("--out must be an absolute path")
    if out.exists():
        raise UsageError(f"{out} already exists; give a new file name")
    if not out.parent.is_dir():
        raise UsageError(f"the folder {out.parent} does not exist")
    if keystore.mode(data_dir) != "passphrase":
        raise UsageError(
            "this node keeps its data key in data.key (test mode), so a backup could not "
            "be protected by a passphrase; set one first with 'alertnode passphrase change'"
        )
    started = time.monotonic()
    salt = secrets.token_bytes(16)
    tmp_db = data_dir / f".backup-{secrets.token_hex(8)}.db"
    tmp_out = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
    try:
        counts = snapshot(data_dir, tmp_db)
        if after_snapshot is not None:
            after_snapshot()
        with _open_new(tmp_out) as f:
            writer = _SealingWriter(f, _body_key(data_key, salt))
            header = {
                "v": FORMAT_VERSION,
                # The key store as it is now (wrapped data key, sealed signing key):
                # the passphrase of this moment opens the backup.
                "keys": (data_dir / keystore.KEYSTORE_FILE).read_bytes(),
                "body_salt": salt,
                "stream": writer.stream_header,
                "chunk": CHUNK_BYTES,
            }
            raw_header = msgpack.packb(header, use_bin_type=True)
            prefix = MAGIC + struct.pack(">I", len(raw_header)) + raw_header
            f.write(prefix)
            writer.ad = hashlib.sha256(prefix).digest()
            manifest = {"format": FORMAT_VERSION, "created": now, "snapshot": counts}
            with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                _add(tar, MANIFEST, json.dumps(manifest).encode())
                for name in SMALL_FILES:
                    _add(tar, name, (data_dir / name).read_bytes())
                _add(tar, DB_FILE, None, tmp_db)
            writer.finish()
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_out, out)
    finally:
        tmp_db.unlink(missing_ok=True)
        tmp_out.unlink(missing_ok=True)
    return {
        "out": str(out),
        "bytes": out.stat().st_size,
        "seconds": round(time.monotonic() - started, 3),
        **counts,
    }


def _open_new(path: Path) -> IO[bytes]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


# --- restore -------------------------------------------------------------------------


def read_header(src: IO[bytes]) -> tuple[dict[str, Any], bytes]:
    """The clear header and the associated data for the chunks. Raises UsageError."""
    magic = src.read(len(MAGIC))
    if magic != MAGIC:
        raise UsageError("that file is not an alertnode backup")
    head = src.read(4)
    if len(head) != 4:
        raise UsageError(DAMAGED)
    (size,) = struct.unpack(">I", head)
    raw = src.read(size) if size <= MAX_HEADER_BYTES else b""
    if len(raw) != size or not raw:
        raise UsageError(DAMAGED)
    try:
        header = msgpack.unpackb(raw, raw=False, max_bin_len=1024, max_str_len=64)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        raise UsageError(DAMAGED) from None
    if not isinstance(header, dict) or header.get("v") != FORMAT_VERSION:
        raise UsageError("this backup was made by another version of alertnode")
    if not all(isinstance(header.get(n), bytes) for n in ("keys", "body_salt", "stream")):
        raise UsageError(DAMAGED)
    return header, hashlib.sha256(MAGIC + head + raw).digest()


def _check_target(data_dir: Path) -> None:
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise UsageError(f"{data_dir} is not empty; restore into an empty or new directory")
    if not data_dir.parent.is_dir():
        raise UsageError(f"the folder {data_dir.parent} does not exist")


def unpack(backup: Path, passphrase: str, staging: Path) -> tuple[bytes, dict[str, Any]]:
    """Open ``backup`` into ``staging``; returns the data key and the manifest.

    Blocking. Raises UsageError (damaged, not a backup) or WrongPassphrase.
    """
    try:
        src = backup.open("rb")
    except OSError:
        raise UsageError(f"{backup} cannot be read") from None
    with src:
        header, ad = read_header(src)
        keys = staging / keystore.KEYSTORE_FILE
        with _open_new(keys) as out:
            out.write(header["keys"])
        try:
            data_key = keystore.unlock(staging, passphrase).data_key
        except NotANode:
            raise UsageError(DAMAGED) from None
        reader = _OpeningReader(src, _body_key(data_key, header["body_salt"]), header["stream"], ad)
        buffered = io.BufferedReader(reader, CHUNK_BYTES)
        seen: set[str] = set()
        manifest: dict[str, Any] = {}
        try:
            with tarfile.open(fileobj=buffered, mode="r|") as tar:
                for member in tar:
                    name = member.name
                    if not member.isfile() or name not in MEMBERS or name in seen:
                        raise UsageError(DAMAGED)
                    if member.size > MAX_MEMBER_BYTES:
                        raise UsageError(DAMAGED)
                    seen.add(name)
                    fileobj = tar.extractfile(member)
                    assert fileobj is not None
                    with _open_new(staging / name) as out:
                        shutil.copyfileobj(fileobj, out, CHUNK_BYTES)
                        out.flush()
                        os.fsync(out.fileno())
                    if name == MANIFEST:
                        manifest = json.loads((staging / name).read_text(encoding="utf-8"))
        except tarfile.TarError:
            raise UsageError(DAMAGED) from None
        buffered.read()  # the tar end-of-archive padding
        reader.drain()
    if seen != MEMBERS:
        raise UsageError(DAMAGED)
    (staging / MANIFEST).unlink()
    return data_key, manifest


async def restore(backup: Path, data_dir: Path, passphrase: str) -> dict[str, Any]:
    """Restore ``backup`` into the empty or new ``data_dir``, with a new feed epoch.

    Nothing is written to ``data_dir`` unless the whole backup opened and verified.
    Raises UsageError or WrongPassphrase.
    """
    import asyncio

    from ..store import Store

    _check_target(data_dir)
    staging = Path(tempfile.mkdtemp(prefix=".alertnode-restore-", dir=data_dir.parent))
    try:
        data_key, manifest = await asyncio.to_thread(unpack, backup, passphrase, staging)
        store = await Store.open(staging, data_key)
        try:
            if not await store.db.integrity_ok():
                raise UsageError(DAMAGED)
            # Peers re-sync by id diff, never trusting positions from before the restore.
            await store.alerts.new_epoch()
            counts = await store.alerts.counts(0)
        finally:
            await store.close()
        _check_target(data_dir)
        data_dir.mkdir(mode=0o700, exist_ok=True)
        for path in staging.iterdir():
            os.replace(path, data_dir / path.name)
        fsync_dir(data_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"data": str(data_dir), "created": manifest.get("created"), **counts}
