"""Argon2id over kept memory (node.keys.argon2) gives libsodium's bytes, reuses and
wipes its memory, frees it when asked, and the slow-hash pool frees it when idle."""

from __future__ import annotations

import asyncio
import os
import threading

import nacl.pwhash.argon2id as libsodium
import pytest

from node.keys import argon2
from node.keys.argon2 import Arena
from node.keys.slowhash import SlowHashPool
from protocol import indicators
from protocol.indicators import NetworkKey

MIB = 1024 * 1024
SMALL = 8 * MIB
KEY = NetworkKey(bytes(range(32)), 0)


def test_the_same_bytes_as_libsodium_for_small_parameters() -> None:
    arena = Arena()
    for ops, mem, size in ((1, SMALL, 32), (2, SMALL, 16), (3, 16 * MIB, 64), (1, 9 * MIB, 32)):
        password, salt = os.urandom(40), os.urandom(16)
        assert arena.hash(size, password, salt, ops, mem) == libsodium.kdf(
            size, password, salt, opslimit=ops, memlimit=mem
        )


@pytest.mark.parametrize("suite", sorted(indicators.SUITES))
def test_every_blinding_suite_blinds_alike(suite: int) -> None:
    arena = Arena()
    normalised = indicators.normalise("phone", "+44 7700 900123", "GB")
    kept = indicators.blind_normalised("phone", normalised, KEY, suite, arena.hash)
    assert kept == indicators.blind_normalised("phone", normalised, KEY, suite)


def test_the_memory_is_kept_between_hashes_and_wiped() -> None:
    arena = Arena()
    arena.hash(32, b"first", bytes(16), 1, SMALL)
    assert arena.held_bytes == SMALL
    (block,) = arena._idle
    assert bytes(argon2.ffi.buffer(block)) == bytes(SMALL)  # the library wiped it
    arena.hash(32, b"second", bytes(16), 1, SMALL)
    assert arena._idle == [block]  # the same block, not a second one
    assert arena.held_bytes == SMALL


def test_trim_frees_the_idle_memory_and_hashing_goes_on() -> None:
    arena = Arena()
    first = arena.hash(32, b"pw", bytes(16), 1, SMALL)
    arena.trim()
    assert arena.held_bytes == 0 and arena._idle == []
    assert arena.hash(32, b"pw", bytes(16), 1, SMALL) == first
    assert arena.held_bytes == SMALL


def test_a_block_of_another_size_is_not_lent() -> None:
    arena = Arena()
    arena.hash(32, b"pw", bytes(16), 1, SMALL)
    wanted = libsodium.kdf(32, b"pw", bytes(16), opslimit=1, memlimit=16 * MIB)
    assert arena.hash(32, b"pw", bytes(16), 1, 16 * MIB) == wanted
    assert arena.held_bytes == SMALL + 16 * MIB


def test_threads_at_once_each_get_a_block_and_the_right_bytes() -> None:
    arena = Arena()
    start = threading.Barrier(3)
    results: dict[int, bytes] = {}

    def one(i: int) -> None:
        start.wait()
        results[i] = arena.hash(32, bytes([i]) * 8, bytes(16), 2, SMALL)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, out in results.items():
        assert out == libsodium.kdf(32, bytes([i]) * 8, bytes(16), opslimit=2, memlimit=SMALL)
    assert SMALL <= arena.held_bytes <= 3 * SMALL
    assert len(arena._idle) * SMALL == arena.held_bytes


def test_parameters_argon2_refuses_are_a_value_error_and_hold_nothing() -> None:
    arena = Arena()
    with pytest.raises(ValueError, match="Time cost"):
        arena.hash(32, b"pw", bytes(16), 0, SMALL)
    with pytest.raises(ValueError, match="Salt"):
        arena.hash(32, b"pw", b"short", 1, SMALL)
    assert arena.held_bytes == 0


def test_no_memory_is_a_memory_error_and_the_arena_stays_usable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arena = Arena()

    def refuse(size: int) -> object:
        raise MemoryError

    monkeypatch.setattr(arena, "_take", refuse)
    with pytest.raises(MemoryError):
        arena.hash(32, b"pw", bytes(16), 1, SMALL)
    monkeypatch.undo()
    assert arena.held_bytes == 0
    assert arena.hash(32, b"pw", bytes(16), 1, SMALL) == libsodium.kdf(
        32, b"pw", bytes(16), opslimit=1, memlimit=SMALL
    )


@pytest.mark.parametrize(
    ("wheel", "local"),
    [
        ("Wheel-Version: 1.0\nTag: cp310-abi3-linux_x86_64\n", True),
        ("Tag: cp311-cp311-linux_aarch64\n", True),
        ("Tag: cp39-abi3-manylinux_2_26_x86_64\nTag: cp39-abi3-manylinux_2_28_x86_64\n", False),
        ("Tag: cp39-abi3-musllinux_1_2_x86_64\n", False),
        ("Tag: cp39-abi3-linux_x86_64\nTag: cp39-abi3-manylinux_2_28_x86_64\n", False),
        ("Tag: cp39-abi3-macosx_10_9_universal2\n", False),
        ("Wheel-Version: 1.0\n", False),
    ],
)
def test_only_a_wheel_built_here_counts_as_local(wheel: str, local: bool) -> None:
    assert argon2.is_local_wheel(wheel) is local


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="make builds it; checked in CI")
def test_make_built_the_binding_here_so_the_node_uses_an_arena() -> None:
    assert argon2.local_build()
    pool = SlowHashPool()
    try:
        assert isinstance(pool.arena, Arena)
    finally:
        pool.close()


class CountingArena(Arena):
    def __init__(self) -> None:
        super().__init__()
        self.hashes = 0

    def hash(self, size: int, password: bytes, salt: bytes, opslimit: int, memlimit: int) -> bytes:
        self.hashes += 1
        return super().hash(size, password, salt, opslimit, memlimit)


async def test_a_burst_blinds_over_the_arena_and_frees_it_when_idle() -> None:
    arena = CountingArena()
    pool = SlowHashPool(arena=arena)
    try:
        numbers = [f"+44 7700 900{i:03d}" for i in range(4)]
        got = await asyncio.gather(*(pool.blind("phone", x, "GB", KEY) for x in numbers))
        for number, (_, blinded) in zip(numbers, got, strict=True):
            assert blinded == indicators.blind("phone", number, KEY, "GB")
        # The first came to an idle pool (libsodium); the three behind it reused memory.
        assert arena.hashes == 3
        assert pool.trimmed is not None
        await asyncio.wrap_future(pool.trimmed)
        assert arena.held_bytes == 0
    finally:
        pool.close()


async def test_a_lone_blinding_keeps_libsodium_and_the_arena_holds_nothing() -> None:
    arena = CountingArena()
    pool = SlowHashPool(arena=arena)
    try:
        for number in ("+44 7700 900001", "+44 7700 900002"):
            _, blinded = await pool.blind("phone", number, "GB", KEY)
            assert blinded == indicators.blind("phone", number, KEY, "GB")
        assert arena.hashes == 0 and arena.held_bytes == 0
        assert pool.trimmed is None
    finally:
        pool.close()


async def test_the_pool_frees_the_arena_before_another_slow_hash() -> None:
    arena = CountingArena()
    pool = SlowHashPool(workers=1, arena=arena)
    try:
        # One worker: the two blindings run first (the second, queued, over the
        # arena), then the other hash, which must find the arena's memory freed though
        # the pool never fell idle in between.
        *_, held = await asyncio.gather(
            pool.blind("phone", "+44 7700 900001", "GB", KEY),
            pool.blind("phone", "+44 7700 900002", "GB", KEY),
            pool.run(lambda: arena.held_bytes),
        )
        assert arena.hashes == 1
        assert held == 0
    finally:
        pool.close()


async def test_a_pool_without_an_arena_blinds_with_libsodium() -> None:
    pool = SlowHashPool(arena=False)
    try:
        assert pool.arena is None
        _, blinded = await pool.blind("phone", "+44 7700 900001", "GB", KEY)
        assert blinded == indicators.blind("phone", "+44 7700 900001", KEY, "GB")
    finally:
        pool.close()
