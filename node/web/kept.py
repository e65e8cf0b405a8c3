"""Forms kept across a lost session: what was typed into a form sent after the session
expired (or ended) is shown again after logging in, never sent again by itself.

Rule: a form is kept only when it was POSTed from this site itself (``Sec-Fetch-Site:
same-origin``, or an ``Origin`` equal to the site's own), to one of the app's own pages
(``redirects.LocalPages``) that needs a session, without a valid session. What is kept
is the text fields only: never a file, a passphrase, a CSRF token or a proof of work.
It lives in this process's memory only (never on disk, in a URL or in a cookie value):
the browser holds only a random reference in a short-lived HttpOnly SameSite=Strict
cookie. The map is bounded (``MAX_KEPT_PER_CLIENT``, ``MAX_KEPT``, ``MAX_KEPT_BYTES``
each) and every entry expires after ``KEPT_FOR_S``. An entry is handed to the session
that logs in next in that browser (only to the member whose session it was, when that
is known), shown once on the form's page, then forgotten; logout, the quick exit, a
wipe and locking the node drop it.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

KEPT_COOKIE = "an_kept"
KEPT_FOR_S = 15 * 60
MAX_KEPT = 200
MAX_KEPT_PER_CLIENT = 3
MAX_KEPT_BYTES = 64 * 1024
REF_BYTES = 32

# Fields never kept: the form's token and proof of work, and every passphrase field.
NEVER_KEPT = frozenset(
    {"csrf", "pow", "pow_challenge", "current", "new", "new2", "password", "passphrase"}
)
SECRET_MARKS = ("pass", "secret", "token", "csrf")
# Forms that work without a session: a refused one of these is "expired", as before.
PUBLIC_FORMS = frozenset(
    {"/login", "/login/save", "/signup", "/join", "/lang", "/unlock", "/logout", "/quick-exit"}
)
# Pages whose forms are never kept: nothing on them is worth bringing back.
NOT_KEPT_PAGES = frozenset({"/admin/wipe"})


def is_secret(name: str) -> bool:
    folded = name.casefold()
    return folded in NEVER_KEPT or any(mark in folded for mark in SECRET_MARKS)


def same_origin(request: web.Request) -> bool:
    """Whether the browser says the POST came from this site's own page. A browser
    that sends neither header (or says otherwise) is treated as another site."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    return origin is not None and origin == f"{request.scheme}://{request.host}"


def keepable_fields(data: MultiDictProxy[Any]) -> dict[str, tuple[str, ...]] | None:
    """The text fields of ``data`` worth keeping (field -> values in order); None when
    nothing was typed or the kept text would be over ``MAX_KEPT_BYTES``."""
    fields: dict[str, list[str]] = {}
    size = 0
    typed = False
    for name, value in data.items():
        if not isinstance(value, str) or is_secret(name):
            continue  # a file, or a secret
        size += len(name.encode()) + len(value.encode())
        if size > MAX_KEPT_BYTES:
            return None
        typed = typed or bool(value.strip())
        fields.setdefault(name, []).append(value)
    if not typed:
        return None
    return {name: tuple(values) for name, values in fields.items()}


@dataclass(frozen=True, slots=True)
class KeptForm:
    path: str
    fields: Mapping[str, tuple[str, ...]]
    # The member whose session had expired, when the request still named it; None when
    # it was already gone (logged out, node restarted).
    owner: int | None
    client: bytes | None
    made: int

    def values(self) -> dict[str, str | list[str]]:
        """The fields as ``Form.values`` holds them: one value as text, several as a list."""
        return {k: (v[0] if len(v) == 1 else list(v)) for k, v in self.fields.items()}


class KeptForms:
    """Reference -> kept form, oldest first; bounded in number, per client and in age."""

    def __init__(
        self,
        max_kept: int = MAX_KEPT,
        per_client: int = MAX_KEPT_PER_CLIENT,
        kept_for_s: int = KEPT_FOR_S,
    ) -> None:
        self._by_ref: OrderedDict[str, KeptForm] = OrderedDict()
        self._max = max_kept
        self._per_client = per_client
        self._kept_for_s = kept_for_s

    def __len__(self) -> int:
        return len(self._by_ref)

    def _expire(self, now: int) -> None:
        while self._by_ref:
            ref, first = next(iter(self._by_ref.items()))
            if now - first.made < self._kept_for_s:
                return
            del self._by_ref[ref]

    def keep(self, kept: KeptForm, now: int, replaces: str | None = None) -> str:
        """Keep ``kept`` (in place of ``replaces``, the browser's previous one) and
        return its new random reference. The oldest of its client's, and then the
        oldest of all, make way."""
        self._expire(now)
        if replaces is not None:
            self._by_ref.pop(replaces, None)
        if kept.client is not None:
            mine = [r for r, k in self._by_ref.items() if k.client == kept.client]
            for ref in mine[: max(0, len(mine) - self._per_client + 1)]:
                del self._by_ref[ref]
        ref = secrets.token_urlsafe(REF_BYTES)
        self._by_ref[ref] = kept
        while len(self._by_ref) > self._max:
            self._by_ref.popitem(last=False)
        return ref

    def take(self, ref: str, now: int) -> KeptForm | None:
        """The form kept under ``ref``, now forgotten; None if unknown or expired."""
        self._expire(now)
        return self._by_ref.pop(ref, None)

    def drop(self, ref: str) -> None:
        self._by_ref.pop(ref, None)

    def clear(self) -> None:
        self._by_ref.clear()
