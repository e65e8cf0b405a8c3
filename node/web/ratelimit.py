"""In-memory rate limits for logins, sign-ups, unlocks, node-passphrase guesses, checks
and feedback.

Rule: a limit counts events per key in fixed windows and never holds more than
``max_keys`` keys (the oldest window is forgotten first). An event is counted in the
same step that checks it (``take``, ``begin``), with no await between, so requests in
flight together cannot all pass one check before any is counted; a failure limit
counts each attempt as failed from the moment it begins, before the slow hash that
decides it. Keys are keyed hashes (under a per-process key) of what they count by, so
the map holds no client address or nickname in the clear.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict

MAX_KEYS = 20_000
LOGIN_FAILURES_PER_ACCOUNT = 5
LOGIN_ATTEMPTS_PER_CLIENT = 30
LOGIN_WINDOW_S = 15 * 60
SIGNUP_ATTEMPTS_PER_CLIENT = 10
SIGNUP_WINDOW_S = 60 * 60
CHECKS_PER_CLIENT_PER_HOUR = 600
CHECK_WINDOW_S = 60 * 60
UNLOCK_ATTEMPTS_PER_CLIENT = 10
UNLOCK_WINDOW_S = 15 * 60
# Guesses at the node passphrase (the unlock form and the wipe page) from every client
# together: addresses are cheap, so the per-client limit alone does not bound them.
NODE_PASSPHRASE_GUESSES_ALL_CLIENTS = 20
EVERYONE = b"everyone"
# The partner API (issue 15): calls per partner per minute, and calls with a bad token
# per client (a token is 32 random bytes; this only keeps the log quiet).
PARTNER_CALLS_PER_MINUTE = 120
# Indicators a partner may check per hour: each costs one slow hash per network key in
# use (about 0.3-0.4 s of a core on a small server), and the hash pool is the one
# members' own checks use, so a partner's bulk checks must leave it to them.
PARTNER_INDICATORS_PER_HOUR = 1000
PARTNER_INDICATOR_WINDOW_S = 60 * 60
PARTNER_BAD_TOKENS_PER_CLIENT = 30
PARTNER_BAD_TOKEN_WINDOW_S = 15 * 60
# Inbound SMS (issue 15): texts answered per sender per hour; a sender over it gets no
# answer at all (an answer costs the organisation a text).
SMS_PER_SENDER_PER_HOUR = 10
SMS_WINDOW_S = 60 * 60
# "Not recognised" answers to all unknown senders together per hour: sender numbers
# are easy to forge, and each answer costs the organisation a text.
SMS_UNKNOWN_PER_HOUR = 100

# The feedback box (/voice, issue 16.2): entries per member and per client a day, so
# one person cannot crowd out everyone (node/store/voice.py also caps each day).
FEEDBACK_PER_MEMBER_PER_DAY = 5
FEEDBACK_PER_CLIENT_PER_DAY = 20
FEEDBACK_WINDOW_S = 24 * 60 * 60

_KEY = secrets.token_bytes(32)


def key_of(purpose: str, value: str) -> bytes:
    return hashlib.blake2b(
        value.encode(), key=_KEY, digest_size=16, person=purpose.encode()[:16]
    ).digest()


class RateLimit:
    """At most ``limit`` events per key per ``window_s`` seconds."""

    def __init__(self, limit: int, window_s: int, max_keys: int = MAX_KEYS) -> None:
        self.limit = limit
        self.window_s = window_s
        self._max_keys = max_keys
        self._counts: OrderedDict[bytes, tuple[int, int]] = OrderedDict()

    def _current(self, key: bytes, now: int) -> int:
        window = now // self.window_s
        entry = self._counts.get(key)
        if entry is None or entry[0] != window:
            return 0
        return entry[1]

    def allowed(self, key: bytes, now: int, limit: int | None = None) -> bool:
        """Whether one more event for ``key`` is within the limit (does not count it)."""
        return self._current(key, now) < (self.limit if limit is None else limit)

    def take(self, key: bytes, now: int, limit: int | None = None) -> bool:
        """Count one event for ``key`` if it is within the limit; whether it was."""
        if not self.allowed(key, now, limit):
            return False
        self.hit(key, now)
        return True

    def take_many(self, key: bytes, now: int, count: int) -> bool:
        """Count ``count`` events for ``key`` if all of them are within the limit."""
        if self._current(key, now) + count > self.limit:
            return False
        for _ in range(count):
            self.hit(key, now)
        return True

    def hit(self, key: bytes, now: int) -> None:
        count = self._current(key, now)
        self._counts[key] = (now // self.window_s, count + 1)
        self._counts.move_to_end(key)
        while len(self._counts) > self._max_keys:
            self._counts.popitem(last=False)

    def reset(self, key: bytes) -> None:
        self._counts.pop(key, None)

    def __len__(self) -> int:
        return len(self._counts)


class Attempt:
    """One attempt that ``FailureLimit.begin`` let through; ``end`` it exactly once."""

    __slots__ = ("_ended", "_key", "_limit")

    def __init__(self, limit: FailureLimit, key: bytes) -> None:
        self._limit = limit
        self._key = key
        self._ended = False

    def end(self, succeeded: bool) -> None:
        """Settle the attempt. A failure stays counted; a success clears its key's
        failures (attempts still in flight stay counted until they end)."""
        if not self._ended:
            self._ended = True
            self._limit._end(self._key, succeeded)


class FailureLimit:
    """At most ``limit`` failed attempts per key per ``window_s`` seconds, where an
    attempt counts as failed from the moment it begins: parallel attempts each take
    a slot before any is checked, so no more than ``limit`` are ever checked in a
    window, however many arrive at once."""

    def __init__(self, limit: int, window_s: int, max_keys: int = MAX_KEYS) -> None:
        self.limit = limit
        self.window_s = window_s
        self._max_keys = max_keys
        # key -> [window, attempts counted in it, attempts in flight]
        self._entries: OrderedDict[bytes, list[int]] = OrderedDict()

    def begin(self, key: bytes, now: int) -> Attempt | None:
        """Count an attempt for ``key``; None (and nothing counted) when the key has
        used up its window."""
        window = now // self.window_s
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = [window, 0, 0]
        elif entry[0] != window:
            entry[0], entry[1] = window, 0
        if entry[1] >= self.limit:
            return None
        entry[1] += 1
        entry[2] += 1
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_keys:
            self._entries.popitem(last=False)
        return Attempt(self, key)

    def _end(self, key: bytes, succeeded: bool) -> None:
        entry = self._entries.get(key)
        if entry is None:  # forgotten meanwhile (max_keys): nothing left to settle
            return
        entry[2] = max(0, entry[2] - 1)
        if succeeded:
            entry[1] = min(entry[1], entry[2])

    def counted(self, key: bytes, now: int) -> int:
        """Attempts counted for ``key`` in the current window (failed or in flight)."""
        entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] == now // self.window_s else 0

    def __len__(self) -> int:
        return len(self._entries)


class WebLimits:
    """The web app's limits, one object so tests can read and tune them."""

    def __init__(self) -> None:
        self.login_account = FailureLimit(LOGIN_FAILURES_PER_ACCOUNT, LOGIN_WINDOW_S)
        self.login_client = RateLimit(LOGIN_ATTEMPTS_PER_CLIENT, LOGIN_WINDOW_S)
        self.signup_client = RateLimit(SIGNUP_ATTEMPTS_PER_CLIENT, SIGNUP_WINDOW_S)
        self.check_member = RateLimit(60, CHECK_WINDOW_S)  # the limit comes from settings
        self.check_client = RateLimit(CHECKS_PER_CLIENT_PER_HOUR, CHECK_WINDOW_S)
        self.unlock_client = RateLimit(UNLOCK_ATTEMPTS_PER_CLIENT, UNLOCK_WINDOW_S)
        self.partner_calls = RateLimit(PARTNER_CALLS_PER_MINUTE, 60)
        self.partner_indicators = RateLimit(PARTNER_INDICATORS_PER_HOUR, PARTNER_INDICATOR_WINDOW_S)
        self.partner_bad_token = RateLimit(
            PARTNER_BAD_TOKENS_PER_CLIENT, PARTNER_BAD_TOKEN_WINDOW_S
        )
        self.feedback_member = RateLimit(FEEDBACK_PER_MEMBER_PER_DAY, FEEDBACK_WINDOW_S)
        self.feedback_client = RateLimit(FEEDBACK_PER_CLIENT_PER_DAY, FEEDBACK_WINDOW_S)
        self.sms_sender = RateLimit(SMS_PER_SENDER_PER_HOUR, SMS_WINDOW_S)
        self.sms_unknown = RateLimit(SMS_UNKNOWN_PER_HOUR, SMS_WINDOW_S, max_keys=1)
        # One key (EVERYONE): a global count, shared by the unlock form and the wipe page.
        self.node_passphrase = RateLimit(
            NODE_PASSPHRASE_GUESSES_ALL_CLIENTS, UNLOCK_WINDOW_S, max_keys=1
        )
