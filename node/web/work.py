"""Proof of work for the log-in and sign-up forms: a cost per attempt that every
visitor pays for themselves, instead of a budget that visitors behind one address
would share.

Rule: a challenge is issued by this node (an HMAC under a per-process key binds its
purpose, issue time, difficulty and a random nonce), lasts ``CHALLENGE_TTL_S`` and
is redeemed at most once. A solution is a counter ``n`` such that
``SHA-256(SHA-256(SEED_TAG || challenge) || n as 8 bytes, big-endian)`` starts with
the challenge's number of zero bits: one SHA-256 block per try, the same in the
page's script (``node/static/pow.js``) and in ``solve`` below. A form sent without a
solution (a browser without JavaScript) may take the slow lane instead: a server-side
wait with a global cap on how many wait at once (``SlowLane``). Nothing here knows
who the visitor is; nothing is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Callable
from enum import Enum

from federation.clock import Clock

VERSION = "1"
SEED_TAG = b"alertnode:pow:v1:"
MAC_TAG = b"alertnode:pow-challenge:v1:"
PURPOSES = ("login", "signup")
CHALLENGE_TTL_S = 30 * 60
# A challenge dated later than this is not one this node issued (clock steps aside).
CHALLENGE_SKEW_S = 60
MIN_BITS = 0
MAX_BITS = 32
NONCE_BYTES = 16
MAC_BYTES = 16
MAX_CHALLENGE_CHARS = 128
MAX_SOLUTION_DIGITS = 16  # the script counts in doubles: below 2**53
# Redeemed challenges are remembered until they expire; past this many (a flood of
# solved challenges) the oldest are forgotten first, which at worst lets that one
# challenge be redeemed once more: it saves its sender one solution, nothing else.
MAX_REDEEMED = 100_000
# Without JavaScript: each attempt waits this long, at most this many at once.
SLOW_LANE_WAIT_S = 3.0
SLOW_LANE_SLOTS = 4


class Verdict(Enum):
    """What ``redeem`` found; only SOLVED and UNSOLVED let the form through."""

    SOLVED = "solved"  # a valid solution: go on at once
    UNSOLVED = "unsolved"  # a valid challenge without a solution: the slow lane
    INVALID = "invalid"  # missing, forged, for another form, wrong solution, reused
    EXPIRED = "expired"  # issued by this node, but too long ago


def work_digest(challenge: str, counter: int) -> bytes:
    """The hash a solution must start with zero bits of."""
    seed = hashlib.sha256(SEED_TAG + challenge.encode("ascii")).digest()
    return hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def challenge_bits(challenge: str) -> int:
    """The difficulty written in a challenge. Raises ValueError."""
    return int(challenge.split(".")[3])


def solve(challenge: str, start: int = 0) -> int:
    """The first counter from ``start`` that solves ``challenge``: the reference
    solver (tests, benchmarks, scripts that log in). Raises ValueError for a
    challenge that is not one."""
    bits = challenge_bits(challenge)
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError("not a challenge")
    seed = hashlib.sha256(SEED_TAG + challenge.encode("ascii")).digest()
    limit = 1 << (256 - bits)
    base = hashlib.sha256(seed)
    counter = start
    while True:
        h = base.copy()
        h.update(counter.to_bytes(8, "big"))
        if int.from_bytes(h.digest(), "big") < limit:
            return counter
        counter += 1


class Challenges:
    """Issues challenges and redeems solutions, each challenge once."""

    def __init__(
        self,
        key: bytes | None = None,
        ttl_s: int = CHALLENGE_TTL_S,
        max_redeemed: int = MAX_REDEEMED,
        nonce: Callable[[int], str] = secrets.token_hex,
    ) -> None:
        self._key = key or secrets.token_bytes(32)
        self._nonce = nonce
        self.ttl_s = ttl_s
        self._max_redeemed = max_redeemed
        # nonce -> the time its challenge expires, oldest redemption first
        self._redeemed: OrderedDict[str, int] = OrderedDict()

    def _mac(self, body: str) -> str:
        mac = hmac.new(self._key, MAC_TAG + body.encode("ascii"), hashlib.sha256)
        return mac.hexdigest()[: MAC_BYTES * 2]

    def issue(self, purpose: str, bits: int, now: int) -> str:
        """A new challenge for the form ``purpose`` asking for ``bits`` zero bits."""
        if purpose not in PURPOSES or not MIN_BITS <= bits <= MAX_BITS:
            raise ValueError("no such form or difficulty")
        body = f"{VERSION}.{purpose}.{now}.{bits}.{self._nonce(NONCE_BYTES)}"
        return f"{body}.{self._mac(body)}"

    def redeem(self, purpose: str, challenge: object, solution: object, now: int) -> Verdict:
        """Check a form's challenge and solution and use the challenge up (unless the
        verdict is INVALID or EXPIRED, which change nothing)."""
        if not isinstance(challenge, str) or len(challenge) > MAX_CHALLENGE_CHARS:
            return Verdict.INVALID
        if not challenge.isascii():
            return Verdict.INVALID
        parts = challenge.split(".")
        if len(parts) != 6:
            return Verdict.INVALID
        version, form, issued_text, bits_text, nonce, mac = parts
        body = challenge[: -len(mac) - 1]
        if not hmac.compare_digest(self._mac(body), mac):
            return Verdict.INVALID
        if version != VERSION or form != purpose:
            return Verdict.INVALID
        issued, bits = int(issued_text), int(bits_text)  # this node wrote them
        if issued > now + CHALLENGE_SKEW_S:
            return Verdict.INVALID
        if now >= issued + self.ttl_s:
            return Verdict.EXPIRED
        verdict = Verdict.UNSOLVED
        if solution not in (None, ""):
            if not self._solves(challenge, bits, solution):
                return Verdict.INVALID
            verdict = Verdict.SOLVED
        self._forget_expired(now)
        if nonce in self._redeemed:
            return Verdict.INVALID
        self._redeemed[nonce] = issued + self.ttl_s
        while len(self._redeemed) > self._max_redeemed:
            self._redeemed.popitem(last=False)
        return verdict

    @staticmethod
    def _solves(challenge: str, bits: int, solution: object) -> bool:
        if not isinstance(solution, str) or not solution.isascii() or not solution.isdigit():
            return False
        if len(solution) > MAX_SOLUTION_DIGITS or (solution != "0" and solution[0] == "0"):
            return False
        return leading_zero_bits(work_digest(challenge, int(solution))) >= bits

    def _forget_expired(self, now: int) -> None:
        # Oldest redemption first is close to oldest expiry first; one that is not
        # waits for the next pass, and MAX_REDEEMED bounds them all anyway.
        while self._redeemed:
            nonce, expires = next(iter(self._redeemed.items()))
            if expires > now:
                return
            del self._redeemed[nonce]

    def __len__(self) -> int:
        return len(self._redeemed)


class SlowLane:
    """The way in for forms sent without a solution: each waits ``wait_s`` on the
    node's clock, and at most ``slots`` wait at once; the rest are turned away at
    once (no queue to hold connections in). It is a budget shared by everyone
    without JavaScript, by design the only one: it caps what skipping the work buys
    (``slots / wait_s`` attempts a second, for the whole node) without touching
    anyone who does the work."""

    def __init__(
        self, clock: Clock, wait_s: float = SLOW_LANE_WAIT_S, slots: int = SLOW_LANE_SLOTS
    ) -> None:
        self._clock = clock
        self.wait_s = wait_s
        self.slots = slots
        self.busy = 0

    async def wait(self) -> bool:
        """Wait the lane's time; False at once when every slot is taken."""
        if self.busy >= self.slots:
            return False
        self.busy += 1
        try:
            await self._clock.sleep(self.wait_s)
        finally:
            self.busy -= 1
        return True
