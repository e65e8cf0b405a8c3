"""The proof of work (node/web/work.py) and the failure limit (node/web/ratelimit.py),
without a web server: golden vectors with the key and nonce injected, what a
challenge binds, single use, expiry, and attempts counted before they are checked."""

from __future__ import annotations

import hashlib

import pytest

from node.web.ratelimit import FailureLimit
from node.web.work import (
    CHALLENGE_SKEW_S,
    Challenges,
    Verdict,
    leading_zero_bits,
    solve,
    work_digest,
)

KEY = bytes(range(32))
NOW = 1_790_000_000
# Checked once by hand with openssl (docs/web.md, "Proof of work"):
#   printf '%s' "alertnode:pow:v1:$CHALLENGE" | openssl dgst -sha256 -binary > seed
#   printf '%016x' 41972 | xxd -r -p > n; cat seed n | openssl dgst -sha256
VECTOR = "1.login.1790000000.16.00000000000000000000000000000000.60590a94e75673be57e5840eb82fc5f3"
VECTOR_SOLUTION = 41972
VECTOR_DIGEST = "0000a40f343f57a876a4fd3d18d8230d116e3f101c5b5688d0e8de2461ddb6ed"


def challenges(**kw: object) -> Challenges:
    return Challenges(key=KEY, nonce=lambda n: "00" * n, **kw)  # type: ignore[arg-type]


def test_golden_vector() -> None:
    assert challenges().issue("login", 16, NOW) == VECTOR
    assert solve(VECTOR) == VECTOR_SOLUTION
    assert work_digest(VECTOR, VECTOR_SOLUTION).hex() == VECTOR_DIGEST
    seed = hashlib.sha256(b"alertnode:pow:v1:" + VECTOR.encode()).digest()
    assert hashlib.sha256(seed + VECTOR_SOLUTION.to_bytes(8, "big")).hexdigest() == VECTOR_DIGEST
    assert leading_zero_bits(bytes.fromhex(VECTOR_DIGEST)) == 16
    # Every smaller counter fails: the solution is the first one.
    assert all(leading_zero_bits(work_digest(VECTOR, n)) < 16 for n in range(VECTOR_SOLUTION))


def test_a_solved_challenge_is_redeemed_once() -> None:
    c = Challenges()
    challenge = c.issue("login", 8, NOW)
    assert challenge != c.issue("login", 8, NOW)  # a new nonce every time
    answer = str(solve(challenge))
    assert c.redeem("login", challenge, answer, NOW + 5) is Verdict.SOLVED
    assert c.redeem("login", challenge, answer, NOW + 6) is Verdict.INVALID
    # Without a solution: the slow lane, once too.
    other = c.issue("signup", 8, NOW)
    assert c.redeem("signup", other, "", NOW) is Verdict.UNSOLVED
    assert c.redeem("signup", other, str(solve(other)), NOW) is Verdict.INVALID


def test_the_mac_binds_every_part_of_a_challenge() -> None:
    c = challenges()
    challenge = c.issue("login", 12, NOW)
    parts = challenge.split(".")
    changed = {
        0: "2",  # version
        1: "signup",  # purpose
        2: str(NOW + 100),  # issue time (a later one would last longer)
        3: "0",  # difficulty
        4: "11" * 16,  # nonce (a fresh one would dodge single use)
        5: "0" * 32,  # the MAC itself
    }
    for index, value in changed.items():
        forged = ".".join([*parts[:index], value, *parts[index + 1 :]])
        assert c.redeem("login", forged, str(solve(forged)), NOW) is Verdict.INVALID, index
    # A challenge from another process (another key) is not one of ours.
    stranger = Challenges().issue("login", 12, NOW)
    assert c.redeem("login", stranger, str(solve(stranger)), NOW) is Verdict.INVALID
    assert c.redeem("signup", challenge, str(solve(challenge)), NOW) is Verdict.INVALID
    assert c.redeem("login", challenge, str(solve(challenge)), NOW) is Verdict.SOLVED


@pytest.mark.parametrize(
    "solution",
    [
        None,
        "x",
        "-1",
        "+41972",
        " 41972",
        "041972",
        "41972.0",
        "\uff14\uff11\uff19\uff17\uff12",
        "9" * 17,
        "41973",
    ],
)
def test_only_the_solution_in_plain_digits_counts(solution: object) -> None:
    c = challenges()
    verdict = c.redeem("login", VECTOR, solution, NOW)
    assert verdict is (Verdict.UNSOLVED if solution is None else Verdict.INVALID)


@pytest.mark.parametrize("challenge", [None, "", 5, "a.b.c", "é" * 10, VECTOR + "0", "x" * 200])
def test_anything_else_is_not_a_challenge(challenge: object) -> None:
    assert challenges().redeem("login", challenge, "1", NOW) is Verdict.INVALID


def test_expiry_and_challenges_from_the_future() -> None:
    c = challenges(ttl_s=600)
    assert c.redeem("login", VECTOR, str(VECTOR_SOLUTION), NOW + 600) is Verdict.EXPIRED
    assert c.redeem("login", VECTOR, str(VECTOR_SOLUTION), NOW - CHALLENGE_SKEW_S - 1) is (
        Verdict.INVALID
    )
    assert c.redeem("login", VECTOR, str(VECTOR_SOLUTION), NOW + 599) is Verdict.SOLVED


def test_redeemed_challenges_are_forgotten_when_they_expire_and_are_bounded() -> None:
    c = Challenges(ttl_s=100, max_redeemed=3)
    issued = [c.issue("login", 0, NOW + i) for i in range(4)]
    for challenge in issued:
        assert c.redeem("login", challenge, "0", NOW + 10) is Verdict.SOLVED
    assert len(c) == 3  # the oldest was dropped to stay within the bound
    later = c.issue("login", 0, NOW + 150)
    assert c.redeem("login", later, "0", NOW + 150) is Verdict.SOLVED
    assert len(c) == 1  # the others expired and were forgotten


def test_a_failure_limit_counts_attempts_before_they_are_checked() -> None:
    limit = FailureLimit(3, 60)
    key = b"account"
    attempts = [limit.begin(key, NOW) for _ in range(5)]
    assert [a is not None for a in attempts] == [True, True, True, False, False]
    first, second, third = attempts[:3]
    assert first is not None and second is not None and third is not None
    # A success clears the failures, but not the two attempts still in flight...
    first.end(succeeded=True)
    assert limit.counted(key, NOW) == 2
    second.end(succeeded=False)
    third.end(succeeded=False)
    assert limit.counted(key, NOW) == 2
    again = limit.begin(key, NOW)
    assert again is not None and limit.begin(key, NOW) is None
    again.end(succeeded=False)
    again.end(succeeded=True)  # ending twice changes nothing
    assert limit.counted(key, NOW) == 3
    # ... and a new window starts afresh.
    assert limit.counted(key, NOW + 60) == 0 and limit.begin(key, NOW + 60) is not None
