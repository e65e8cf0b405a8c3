"""The connection table's rules, without sockets: who is counted under which address,
who is pushed out when a cap is reached, and when a newcomer is refused instead.
(The deadlines and caps on real sockets: tests/security/test_connections.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from federation.connections import ConnectionLimits, ConnectionTable, address_key


class FakeConnection:
    def __init__(self, key: str) -> None:
        self.key = key
        self.handed_over = True
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True


def table(total: int, per_address: int) -> ConnectionTable:
    return ConnectionTable(ConnectionLimits(max_connections=total, max_per_address=per_address))


def admit(t: ConnectionTable, key: str) -> Any:
    conn = FakeConnection(key)
    return conn if t.admit(conn) else None  # type: ignore[arg-type]


def test_addresses_are_counted_as_one_client_each() -> None:
    assert address_key(("192.0.2.7", 443)) == "192.0.2.7"
    assert address_key(("::ffff:192.0.2.7", 443, 0, 0)) == "192.0.2.7"
    # An IPv6 client holds a /64: every address in it is one client.
    assert address_key(("2001:db8:1:2::1", 1, 0, 0)) == address_key(("2001:db8:1:2:ff::9", 1, 0, 0))
    assert address_key(("2001:db8:1:2::1", 1, 0, 0)) != address_key(("2001:db8:1:3::1", 1, 0, 0))
    assert address_key(("fe80::1%eth0", 1, 0, 2)) == "fe80::/64"
    assert address_key(None) == address_key("/tmp/socket") == ""


def test_one_address_over_its_cap_pushes_out_its_own_oldest_waiting_connection() -> None:
    t = table(total=10, per_address=2)
    first, second = admit(t, "a"), admit(t, "a")
    other = admit(t, "b")
    third = admit(t, "a")
    assert third is not None and first.aborted and not second.aborted and not other.aborted
    assert (len(t), t.count("a"), t.evicted, t.refused) == (3, 2, 1, 0)


def test_a_newcomer_is_refused_when_everything_in_its_way_is_busy() -> None:
    t = table(total=10, per_address=2)
    busy = [admit(t, "a"), admit(t, "a")]
    for conn in busy:
        t.busy(conn)
    assert admit(t, "a") is None
    assert not any(conn.aborted for conn in busy)
    assert (t.count("a"), t.refused, t.evicted) == (2, 1, 0)
    # Another address still gets in.
    assert admit(t, "b") is not None


def test_at_the_total_cap_the_never_answered_go_first_then_the_oldest_kept_alive() -> None:
    t = table(total=3, per_address=3)
    kept = admit(t, "member")
    t.busy(kept)
    t.waiting(kept, answered=True)  # answered once, now idle on keep-alive
    stranger_old, stranger_new = admit(t, "x"), admit(t, "y")
    newcomer = admit(t, "z")
    assert newcomer is not None and stranger_old.aborted
    assert not stranger_new.aborted and not kept.aborted
    latest = admit(t, "w")
    assert stranger_new.aborted and not kept.aborted
    # Only when no never-answered connection waits is a kept-alive one pushed out.
    t.busy(newcomer)
    t.busy(latest)
    assert admit(t, "v") is not None
    assert kept.aborted and not newcomer.aborted and not latest.aborted
    assert len(t) == 3


def test_release_is_idempotent_and_frees_the_address() -> None:
    t = table(total=2, per_address=1)
    conn = admit(t, "a")
    t.release(conn)
    t.release(conn)
    assert (len(t), t.count("a")) == (0, 0)
    assert admit(t, "a") is not None and not conn.aborted


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        ConnectionLimits(idle_timeout_s=0)
    with pytest.raises(ValueError):
        ConnectionLimits(max_connections=4, max_per_address=5)
    with pytest.raises(ValueError):
        ConnectionLimits(idle_timeout_s=30, peer_idle_timeout_s=10)
