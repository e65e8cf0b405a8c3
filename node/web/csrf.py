"""CSRF tokens for every form.

Rule: every POST carries a token bound to the visitor: a logged-in session's own
random token, or, before login, an HMAC (under a per-process key) of a random
"pre-session" cookie. Tokens are compared in constant time. A POST without a valid
token changes nothing and gets a page that says so.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PRE_COOKIE_BYTES = 24


class CsrfKeys:
    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    @staticmethod
    def new_pre_session() -> str:
        return secrets.token_urlsafe(PRE_COOKIE_BYTES)

    def pre_session_token(self, pre_session: str) -> str:
        mac = hmac.new(self._key, b"csrf:" + pre_session.encode(), hashlib.sha256)
        return mac.hexdigest()


def tokens_match(expected: str, given: object) -> bool:
    if not isinstance(given, str) or not expected:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
