"""Argon2id over memory kept between hashes: the blinding's slow hash without the
kernel's work of mapping 64 MiB afresh each time.

Rule: the output is exactly libsodium's ``crypto_pwhash_argon2id`` (RFC 9106 Argon2id,
version 0x13, one lane), so either may blind any value; only where the memory comes
from differs. libsodium maps a new 64 MiB region for every hash and unmaps it after,
and the kernel's zeroing of 16,384 fresh pages costs a quarter to a third of a
blinding on this project's test machine. Here the Argon2 reference library (through
argon2-cffi-bindings) asks ``Arena`` for its memory, which lends a block it already
holds; the library wipes the block before it is handed back, so an idle block holds
only zeros. An ``Arena`` never holds more blocks than hashes ever ran on it at once;
``trim`` frees the idle ones (the slow-hash pool calls it whenever it falls idle).

The reference library is fast only when built for this machine's vector unit: the
generic wheels on PyPI are built for SSE2 and take about twice libsodium's time. A
binding compiled here (``make`` builds it with ``-march=native``) carries a plain
``linux_*`` wheel tag, which PyPI never serves; ``native_arena`` returns an Arena only
for such a build, and the node otherwise keeps libsodium.
"""

from __future__ import annotations

import functools
import importlib.metadata
import threading
from typing import Any

from _argon2_cffi_bindings import ffi, lib

__all__ = ["Arena", "local_build", "native_arena"]

DISTRIBUTION = "argon2-cffi-bindings"
_ERROR = int(lib.ARGON2_MEMORY_ALLOCATION_ERROR)
# The arena and block of the hash running on this thread (set only inside Arena.hash).
_running = threading.local()
# Blocks are not cleared when made: Argon2 writes every block before it reads it, and
# clearing would touch all 64 MiB once more.
_new_block = ffi.new_allocator(should_clear_after_alloc=False)


def _lend_block(memory: Any, size: int) -> int:
    arena: Arena = _running.arena
    try:
        block = arena._take(size)
    except MemoryError:
        return _ERROR
    _running.block = block
    memory[0] = block
    return int(lib.ARGON2_OK)


def _block_returned(memory: Any, size: int) -> None:
    # The library has wiped the block; Arena.hash puts it back among the idle ones.
    return None


# The library's allocate and free callbacks (any other exception in the first is
# reported as unraisable and read as an allocation error).
_lend = ffi.callback("int(uint8_t **, size_t)", _lend_block, error=_ERROR)
_return = ffi.callback("void(uint8_t *, size_t)", _block_returned)


class Arena:
    """Memory blocks for Argon2id, kept between hashes; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self._held = 0

    @property
    def held_bytes(self) -> int:
        """Bytes of every block this arena holds, idle or lent."""
        return self._held

    def _take(self, size: int) -> Any:
        with self._lock:
            for i, block in enumerate(self._idle):
                if len(block) == size:
                    return self._idle.pop(i)
        block = self._new_block(size)
        with self._lock:
            self._held += size
        return block

    def _new_block(self, size: int) -> Any:
        """A new block of ``size`` bytes (a subclass may take its memory elsewhere)."""
        return _new_block("uint8_t[]", size)

    def _give_back(self, block: Any) -> None:
        with self._lock:
            self._idle.append(block)

    def trim(self) -> None:
        """Free every idle block (a lent one is freed when its hash gives it back and
        the next trim runs)."""
        with self._lock:
            freed, self._idle = self._idle, []
            self._held -= sum(len(block) for block in freed)
        del freed

    def hash(self, size: int, password: bytes, salt: bytes, opslimit: int, memlimit: int) -> bytes:
        """Argon2id of ``password`` under ``salt``: ``size`` bytes, ``opslimit`` passes
        over ``memlimit`` bytes, as libsodium's ``argon2id.kdf`` with the same
        arguments. Raises ValueError for parameters Argon2 refuses, MemoryError when
        no block can be had."""
        out = ffi.new("uint8_t[]", size)
        pwd = ffi.new("uint8_t[]", password)
        salt_c = ffi.new("uint8_t[]", salt)
        context = ffi.new(
            "argon2_context *",
            {
                "out": out, "outlen": size,
                "pwd": pwd, "pwdlen": len(password),
                "salt": salt_c, "saltlen": len(salt),
                "secret": ffi.NULL, "secretlen": 0, "ad": ffi.NULL, "adlen": 0,
                "t_cost": opslimit, "m_cost": memlimit // 1024, "lanes": 1, "threads": 1,
                "version": lib.ARGON2_VERSION_13,
                "allocate_cbk": _lend, "free_cbk": _return, "flags": lib.ARGON2_DEFAULT_FLAGS,
            },
        )  # fmt: skip
        _running.arena, _running.block = self, None
        try:
            code = lib.argon2_ctx(context, lib.Argon2_id)
        finally:
            block, _running.arena, _running.block = _running.block, None, None
            if block is not None:
                self._give_back(block)
        if code == _ERROR:
            raise MemoryError("no memory for an Argon2id hash")
        if code != lib.ARGON2_OK:
            raise ValueError(ffi.string(lib.argon2_error_message(code)).decode())
        return bytes(out)


@functools.cache
def local_build() -> bool:
    """Whether the installed argon2-cffi-bindings was built on this machine: every tag
    of its wheel is a plain ``linux_*`` one, which PyPI does not serve. Read once a
    process (every node's slow-hash pool asks)."""
    try:
        text = importlib.metadata.distribution(DISTRIBUTION).read_text("WHEEL") or ""
    except importlib.metadata.PackageNotFoundError:
        return False
    return is_local_wheel(text)


def is_local_wheel(wheel: str) -> bool:
    """Whether a WHEEL file's tags are all plain ``linux_*`` platforms (built here)."""
    tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
    return bool(tags) and all(tag.rsplit("-", 1)[-1].startswith("linux_") for tag in tags)


def native_arena() -> Arena | None:
    """An Arena when the binding was built on this machine, else None (libsodium)."""
    return Arena() if local_build() else None
