"""bench.guess's attacker arena: the same Argon2id bytes, over blocks advised for huge
pages; and when the kernel is taken to offer them."""

from __future__ import annotations

import os
from pathlib import Path

import nacl.pwhash.argon2id as libsodium
import pytest

from bench import guess

MIB = 1024 * 1024


def _vm_flags(address: int) -> set[str]:
    """The VmFlags of this process's mapping that holds ``address``."""
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                start, end = (int(x, 16) for x in head.split("-"))
                inside = start <= address < end
            elif inside and line.startswith("VmFlags:"):
                return set(line.split()[1:])
    raise AssertionError("no mapping holds the address")


@pytest.mark.skipif(
    guess.MADV_HUGEPAGE is None or not os.path.exists("/proc/self/smaps"),
    reason="Linux with the huge-page advice only",
)
def test_the_huge_page_arena_hashes_alike_over_an_advised_block_it_keeps() -> None:
    arena = guess.HugePageArena()
    for ops in (1, 2):
        password, salt = os.urandom(20), os.urandom(16)
        assert arena.hash(32, password, salt, ops, 8 * MIB) == libsodium.kdf(
            32, password, salt, opslimit=ops, memlimit=8 * MIB
        )
    (block,) = arena._idle  # one block, kept and lent again
    assert arena.held_bytes == 8 * MIB
    address = int(guess.argon2.ffi.cast("uintptr_t", block))
    assert "hg" in _vm_flags(address)  # madvise(MADV_HUGEPAGE)
    arena.trim()
    del block
    with pytest.raises(AssertionError, match="no mapping"):
        _vm_flags(address)


@pytest.mark.parametrize(
    ("setting", "offered"),
    [
        ("always [madvise] never\n", True),
        ("[always] madvise never\n", True),
        ("always madvise [never]\n", False),
        ("", False),
    ],
)
def test_huge_pages_are_offered_unless_the_kernel_says_never(
    setting: str, offered: bool, tmp_path: Path
) -> None:
    (tmp_path / "enabled").write_text(setting)
    expected = offered and guess.MADV_HUGEPAGE is not None
    assert guess.hugepages_offered(tmp_path / "enabled") is expected
    assert guess.hugepages_offered(tmp_path / "absent") is False
