"""One peer's replay window: bounded memory, bounded lifetime, and no replay ever let in."""

from __future__ import annotations

import pytest

from protocol.errors import LocalProtocolError
from protocol.request import MAX_NONCES_PER_PEER, REQUEST_SKEW_S, NonceWindow

from . import NOW
from .test_request import NONCE, header, verify


def n(i: int) -> bytes:
    return i.to_bytes(16, "big")


def test_a_replay_is_detected() -> None:
    window = NonceWindow()
    auth = verify(header())
    assert window.seen(auth.nonce, auth.timestamp, NOW) is False
    replay = verify(header(), now=NOW + 30)
    assert window.seen(replay.nonce, replay.timestamp, NOW + 30) is True


def test_entries_end_once_their_timestamp_is_outside_the_window() -> None:
    window = NonceWindow()
    for i in range(10):
        assert not window.seen(n(i), NOW, NOW)
    assert len(window) == 10
    assert not window.seen(n(99), NOW + 61, NOW + 61)
    assert len(window) == 1
    # A replay of an ended entry carries its old timestamp, and is refused as old.
    assert window.seen(n(3), NOW, NOW + 61)


def test_timestamps_outside_the_window_are_refused() -> None:
    window = NonceWindow()
    assert window.seen(NONCE, NOW - REQUEST_SKEW_S - 1, NOW)
    assert window.seen(NONCE, NOW + REQUEST_SKEW_S + 1, NOW)
    assert len(window) == 0


def test_a_future_dated_entry_is_kept_only_a_window_from_when_it_came() -> None:
    window = NonceWindow()
    ahead = NOW + REQUEST_SKEW_S
    assert not window.seen(n(1), ahead, NOW)
    assert window.until(ahead, NOW) == NOW + REQUEST_SKEW_S
    # Gone from memory after one window, not two...
    assert not window.seen(n(2), NOW + REQUEST_SKEW_S + 1, NOW + REQUEST_SKEW_S + 1)
    assert len(window) == 1
    # ...yet its replay, whose timestamp the clock check still accepts, is refused:
    # forgetting it raised the floor to its timestamp.
    assert window.floor == ahead
    assert window.seen(n(1), ahead, NOW + REQUEST_SKEW_S + 1)


def test_a_full_window_never_lets_a_forgotten_nonce_back_in() -> None:
    window = NonceWindow(max_nonces=4)
    for i in range(4):
        assert not window.seen(n(i), NOW + i, NOW + 5)
    # Full: a fifth request pushes out the one that ends first (signed at NOW).
    assert not window.seen(n(9), NOW + 5, NOW + 5)
    assert len(window) == 4
    assert window.floor == NOW
    assert window.seen(n(0), NOW, NOW + 5)
    # A new request signed no later than the one that would go is refused rather
    # than pushing a newer one out.
    assert window.seen(n(7), NOW + 1, NOW + 5)
    # Requests signed after the floor are still accepted, and still checked.
    assert not window.seen(n(8), NOW + 6, NOW + 6)
    assert window.seen(n(8), NOW + 6, NOW + 6)


def test_the_window_stays_bounded_under_100k_inserts() -> None:
    window = NonceWindow()
    accepted = 0
    for i in range(100_000):
        now = NOW + i // 2000  # 2000 requests a second: a flood
        if not window.seen(n(i), now, now):
            accepted += 1
        assert len(window) <= MAX_NONCES_PER_PEER
    assert len(window) == MAX_NONCES_PER_PEER
    assert accepted > 90_000  # a flood costs only requests at or below the floor
    assert len(window._by_until) == len(window)


def test_the_window_empties_when_traffic_stops() -> None:
    window = NonceWindow(max_nonces=1000)
    for i in range(5000):
        window.seen(n(i), NOW + i // 100, NOW + i // 100)
    window.seen(n(10**6), NOW + 1000, NOW + 1000)
    assert len(window) == 1


def test_restored_entries_refuse_their_replays() -> None:
    before = NonceWindow(max_nonces=3)
    kept = [(n(i), NOW + i, before.until(NOW + i, NOW)) for i in range(3)]
    for nonce, ts, _ in kept:
        assert not before.seen(nonce, ts, NOW)
    later = NonceWindow(max_nonces=2)
    for nonce, ts, until in sorted(kept, key=lambda e: e[2]):
        later.restore(nonce, ts, until, NOW + 1)
    # One did not fit and raised the floor; the other two are remembered.
    assert len(later) == 2 and later.floor == NOW
    assert all(later.seen(nonce, ts, NOW + 1) for nonce, ts, _ in kept)
    # An entry that ended before the restart only raises the floor.
    ended = NonceWindow()
    ended.restore(n(5), NOW + 50, NOW + 40, NOW + 45)
    assert len(ended) == 0 and ended.seen(n(5), NOW + 50, NOW + 45)


def test_a_window_must_hold_something() -> None:
    with pytest.raises(LocalProtocolError):
        NonceWindow(max_nonces=0)
