"""In-memory rate limits for logins, sign-ups, unlocks, node-passphrase guesses and checks.

Rule: a limit counts events per key in fixed windows and never holds more than
``max_keys`` keys (the oldest window is forgotten first). Keys are keyed hashes
(under a per-process key) of what they count by, so the map holds no client address
or nickname in the clear.
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


class WebLimits:
    """The web app's limits, one object so tests can read and tune them."""

    def __init__(self) -> None:
        self.login_account = RateLimit(LOGIN_FAILURES_PER_ACCOUNT, LOGIN_WINDOW_S)
        self.login_client = RateLimit(LOGIN_ATTEMPTS_PER_CLIENT, LOGIN_WINDOW_S)
        self.signup_client = RateLimit(SIGNUP_ATTEMPTS_PER_CLIENT, SIGNUP_WINDOW_S)
        self.check_member = RateLimit(60, CHECK_WINDOW_S)  # the limit comes from settings
        self.check_client = RateLimit(CHECKS_PER_CLIENT_PER_HOUR, CHECK_WINDOW_S)
        self.unlock_client = RateLimit(UNLOCK_ATTEMPTS_PER_CLIENT, UNLOCK_WINDOW_S)
        # One key (EVERYONE): a global count, shared by the unlock form and the wipe page.
        self.node_passphrase = RateLimit(
            NODE_PASSPHRASE_GUESSES_ALL_CLIENTS, UNLOCK_WINDOW_S, max_keys=1
        )
