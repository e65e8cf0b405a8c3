"""Web sessions: a bounded, in-memory map of random session ids to who is logged in.

Rule: a session id is 256 random bits, issued only at login (so an id planted before
login is never promoted: no fixation), dropped at logout, after the idle timeout,
when its member is revoked or deleted, and whenever the node locks or restarts.
Nothing here is written to disk. When the map is full the least recently used
session is dropped. What a member chose on a page (browse filters) and the one-off
notice after a form is sent live here too, never in a URL (docs/web.md, "No telling
history"), so they end with the session, as does a form kept across a lost session
(node/web/kept.py) once it is handed to the session that logged in.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass, field

from .kept import KeptForm

MAX_SESSIONS = 10_000
SESSION_ID_BYTES = 32
CSRF_TOKEN_BYTES = 32


@dataclass(slots=True)
class Session:
    id: str
    member_id: int
    role: str
    nickname: str
    csrf: str
    last_seen: int
    # The one-off notice the next page shows ("sent", "deleted"...), then forgets.
    notice: str = ""
    # A secret the next page shows once and forgets (a new invite code): never in a
    # URL, so a reload of that page shows no code and makes no second invite.
    shown_once: str = ""
    # The last browse filters (form field -> values), kept for /alerts.
    browse: dict[str, list[str]] = field(default_factory=dict)
    # A form sent after an earlier session was lost, shown filled in once on its page.
    kept: KeptForm | None = None


class Sessions:
    def __init__(self, max_sessions: int = MAX_SESSIONS) -> None:
        self._by_id: OrderedDict[str, Session] = OrderedDict()
        self._max = max_sessions

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._by_id

    def create(self, member_id: int, role: str, nickname: str, now: int) -> Session:
        session = Session(
            id=secrets.token_urlsafe(SESSION_ID_BYTES),
            member_id=member_id,
            role=role,
            nickname=nickname,
            csrf=secrets.token_urlsafe(CSRF_TOKEN_BYTES),
            last_seen=now,
        )
        self._by_id[session.id] = session
        while len(self._by_id) > self._max:
            self._by_id.popitem(last=False)
        return session

    def get(self, session_id: str, now: int, idle_s: int) -> Session | None:
        """The live session for ``session_id``, touched; None if unknown or idle too long."""
        session = self._by_id.get(session_id)
        if session is None:
            return None
        if now - session.last_seen > idle_s:
            del self._by_id[session_id]
            return None
        session.last_seen = now
        self._by_id.move_to_end(session_id)
        return session

    def member_of(self, session_id: str) -> int | None:
        """The member of ``session_id`` even if it has been idle too long (not touched);
        None if unknown: who a form sent just after the timeout belongs to."""
        session = self._by_id.get(session_id)
        return None if session is None else session.member_id

    def drop(self, session_id: str) -> None:
        self._by_id.pop(session_id, None)

    def drop_member(self, member_id: int) -> None:
        for sid in [s.id for s in self._by_id.values() if s.member_id == member_id]:
            del self._by_id[sid]

    def clear(self) -> None:
        self._by_id.clear()
