"""The replay window: bounded memory, and no replay ever let in."""

from __future__ import annotations

import pytest

from protocol.errors import LocalProtocolError
from protocol.request import MAX_NONCES, REQUEST_SKEW_S, NonceWindow

from . import NOW, ORIGIN_A, ORIGIN_B
from .test_request import NONCE, header, verify

# --- the nonce window ----------------------------------------------------------------


def test_a_replay_is_detected() -> None:
    window = NonceWindow()
    auth = verify(header())
    assert window.seen(auth.origin, auth.nonce, auth.timestamp, NOW) is False
    replay = verify(header(), now=NOW + 30)
    assert window.seen(replay.origin, replay.nonce, replay.timestamp, NOW + 30) is True


def test_the_same_nonce_from_another_origin_is_not_a_replay() -> None:
    window = NonceWindow()
    assert not window.seen(ORIGIN_A, NONCE, NOW, NOW)
    assert not window.seen(ORIGIN_B, NONCE, NOW, NOW)
    assert window.seen(ORIGIN_B, NONCE, NOW, NOW)


def test_entries_expire_once_their_timestamp_is_outside_the_window() -> None:
    window = NonceWindow()
    for i in range(10):
        assert not window.seen(ORIGIN_A, bytes([i]) * 16, NOW, NOW)
    assert len(window) == 10
    assert not window.seen(ORIGIN_A, bytes(16), NOW + 61, NOW + 61)
    assert len(window) == 1
    # A replay of an expired entry carries its old timestamp, and is refused as old.
    assert window.seen(ORIGIN_A, bytes([3]) * 16, NOW, NOW + 61)


def test_timestamps_outside_the_window_are_refused() -> None:
    window = NonceWindow()
    assert window.seen(ORIGIN_A, NONCE, NOW - REQUEST_SKEW_S - 1, NOW)
    assert window.seen(ORIGIN_A, NONCE, NOW + REQUEST_SKEW_S + 1, NOW)
    assert len(window) == 0


def test_a_full_window_never_lets_an_evicted_nonce_back_in() -> None:
    window = NonceWindow(max_nonces=4)
    for i in range(4):
        assert not window.seen(ORIGIN_A, bytes([i]) * 16, NOW + i, NOW + 5)
    # Full: a fifth request pushes out the oldest (signed at NOW) and raises the floor.
    assert not window.seen(ORIGIN_A, bytes([9]) * 16, NOW + 5, NOW + 5)
    assert len(window) == 4
    assert window.floor == NOW
    # The evicted request replayed is refused: it is at or below the floor.
    assert window.seen(ORIGIN_A, bytes([0]) * 16, NOW, NOW + 5)
    # So is a new request older than everything kept, rather than evicting newer ones.
    assert window.seen(ORIGIN_B, bytes([7]) * 16, NOW + 1, NOW + 5)
    # Requests signed after the floor are still accepted, and still checked.
    assert not window.seen(ORIGIN_B, bytes([8]) * 16, NOW + 6, NOW + 6)
    assert window.seen(ORIGIN_B, bytes([8]) * 16, NOW + 6, NOW + 6)


def test_the_window_stays_bounded_under_100k_inserts() -> None:
    window = NonceWindow()
    accepted = 0
    for i in range(100_000):
        now = NOW + i // 2000  # 2000 requests a second: a flood
        if not window.seen(ORIGIN_A, i.to_bytes(16, "big"), now, now):
            accepted += 1
        assert len(window) <= MAX_NONCES
    assert len(window) == MAX_NONCES
    assert accepted > 90_000  # a flood costs only requests at or below the floor
    assert len(window._by_time) == len(window)


def test_the_window_empties_when_traffic_stops() -> None:
    window = NonceWindow(max_nonces=1000)
    for i in range(5000):
        window.seen(ORIGIN_A, i.to_bytes(16, "big"), NOW + i // 100, NOW + i // 100)
    window.seen(ORIGIN_A, bytes(16), NOW + 1000, NOW + 1000)
    assert len(window) == 1


def test_a_window_must_hold_something() -> None:
    with pytest.raises(LocalProtocolError):
        NonceWindow(max_nonces=0)
