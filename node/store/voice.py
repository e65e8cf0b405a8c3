"""Members' voice: anonymous feedback and polls whose results are totals only.

Rule: a feedback entry has no member column and no time finer than its day (UTC); its
topic and text are sealed under the row's id. A poll's question and options are
sealed; a vote adds one to its option's total and stores, apart from the total, a
keyed tag of (poll, member) so that a member can answer each poll once. The tag is
``RowCrypto.tag`` (HMAC under a key derived from the data key): without the data key
it cannot be linked to a member, and it never records the option chosen. When a poll
closes its tags are deleted, so a closed poll keeps totals and nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import NotFound, UsageError
from ..keys.crypto import RowCrypto
from ..setting_kinds import N_
from .db import Database
from .sealed import coarsen_day

FEEDBACK_TOPICS = ("works", "missing", "unsafe", "other")
# The box holds at most this many entries; an admin reads and deletes them.
MAX_FEEDBACK_ENTRIES = 2000
# At most this many entries a day, from everyone together: whoever floods the box
# (past the per-member and per-client limits of node/web/ratelimit.py, with many
# accounts) fills one day's share, and the box takes others' again the next day.
MAX_FEEDBACK_PER_DAY = 100
FULL = N_("The feedback box is full until the organisation reads it.")
FULL_TODAY = N_("The feedback box takes no more today. Please send yours tomorrow.")
MAX_POLL_OPTIONS = 6
MAX_OPEN_POLLS = 20


@dataclass(frozen=True, slots=True)
class Feedback:
    id: int
    day: int
    topic: str
    text: str


@dataclass(frozen=True, slots=True)
class Poll:
    id: int
    created: int
    open: bool
    question: str
    options: tuple[str, ...]
    totals: tuple[int, ...]


class FeedbackStore:
    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self._db = db
        self._crypto = crypto

    async def add(self, topic: str, text: str, now: int) -> None:
        """Keep one entry, dated to the day, linked to no one. Raises UsageError (its
        message ``FULL`` or ``FULL_TODAY``, marked for translation) when the box is
        full or has taken ``MAX_FEEDBACK_PER_DAY`` entries today."""
        if topic not in FEEDBACK_TOPICS:
            raise UsageError("unknown feedback topic")
        day = coarsen_day(now)
        async with self._db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT count(*), count(CASE WHEN day = ? THEN 1 END) FROM feedback", (day,)
                )
            )
            if rows[0][0] >= MAX_FEEDBACK_ENTRIES:
                raise UsageError(FULL)
            if rows[0][1] >= MAX_FEEDBACK_PER_DAY:
                raise UsageError(FULL_TODAY)
            cur = await conn.execute("INSERT INTO feedback (day, body_enc) VALUES (?, x'')", (day,))
            entry_id = int(cur.lastrowid or 0)
            body = json.dumps({"topic": topic, "text": text}).encode()
            await conn.execute(
                "UPDATE feedback SET body_enc = ? WHERE id = ?",
                (self._crypto.seal("feedback", "body", entry_id, body), entry_id),
            )

    async def list(self) -> list[Feedback]:
        rows = await self._db.fetchall("SELECT id, day, body_enc FROM feedback ORDER BY day, id")
        out = []
        for entry_id, day, sealed in rows:
            body = json.loads(self._crypto.open("feedback", "body", entry_id, sealed))
            out.append(Feedback(entry_id, day, body["topic"], body["text"]))
        return out

    async def delete(self, entry_id: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM feedback WHERE id = ?", (entry_id,))
        await self._db.checkpoint()

    async def purge_older_than(self, cutoff: int) -> int:
        async with self._db.transaction() as conn:
            cur = await conn.execute("DELETE FROM feedback WHERE day < ?", (cutoff,))
            count = cur.rowcount
        if count:
            await self._db.checkpoint()
        return count


class PollStore:
    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self._db = db
        self._crypto = crypto

    def _voter_tag(self, poll_id: int, member_id: int) -> bytes:
        return self._crypto.tag("poll-voter", f"{poll_id}:{member_id}".encode())

    async def create(self, question: str, options: list[str], now: int) -> int:
        """A new open poll. Raises UsageError."""
        if not 2 <= len(options) <= MAX_POLL_OPTIONS:
            raise UsageError(f"a poll has 2 to {MAX_POLL_OPTIONS} options")
        async with self._db.transaction() as conn:
            rows = list(await conn.execute_fetchall("SELECT count(*) FROM polls WHERE open = 1"))
            if rows[0][0] >= MAX_OPEN_POLLS:
                raise UsageError(f"at most {MAX_OPEN_POLLS} polls can be open at once")
            cur = await conn.execute(
                "INSERT INTO polls (created, open, body_enc) VALUES (?, 1, x'')",
                (coarsen_day(now),),
            )
            poll_id = int(cur.lastrowid or 0)
            body = json.dumps({"question": question, "options": options}).encode()
            await conn.execute(
                "UPDATE polls SET body_enc = ? WHERE id = ?",
                (self._crypto.seal("polls", "body", poll_id, body), poll_id),
            )
            await conn.executemany(
                "INSERT INTO poll_counts (poll_id, option, n) VALUES (?, ?, 0)",
                [(poll_id, n) for n in range(len(options))],
            )
        return poll_id

    def _poll(self, row: Any, totals: dict[int, int]) -> Poll:
        body = json.loads(self._crypto.open("polls", "body", row[0], row[3]))
        options = tuple(body["options"])
        return Poll(
            row[0],
            row[1],
            bool(row[2]),
            body["question"],
            options,
            tuple(totals.get(n, 0) for n in range(len(options))),
        )

    async def list(self, *, only_open: bool = False) -> list[Poll]:
        where = " WHERE open = 1" if only_open else ""
        rows = await self._db.fetchall(
            f"SELECT id, created, open, body_enc FROM polls{where} ORDER BY id DESC"  # noqa: S608
        )
        counts = await self._db.fetchall("SELECT poll_id, option, n FROM poll_counts")
        by_poll: dict[int, dict[int, int]] = {}
        for poll_id, option, n in counts:
            by_poll.setdefault(poll_id, {})[option] = n
        return [self._poll(r, by_poll.get(r[0], {})) for r in rows]

    async def has_voted(self, poll_id: int, member_id: int) -> bool:
        row = await self._db.fetchone(
            "SELECT 1 FROM poll_voters WHERE poll_id = ? AND tag = ?",
            (poll_id, self._voter_tag(poll_id, member_id)),
        )
        return row is not None

    async def vote(self, poll_id: int, member_id: int, option: int) -> bool:
        """Add one to ``option``'s total; False (nothing changed) if this member has
        answered this poll already. Raises NotFound for a poll that is not open or an
        option it does not have."""
        tag = self._voter_tag(poll_id, member_id)
        async with self._db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT 1 FROM poll_counts c JOIN polls p ON p.id = c.poll_id"
                    " WHERE c.poll_id = ? AND c.option = ? AND p.open = 1",
                    (poll_id, option),
                )
            )
            if not rows:
                raise NotFound("no open poll has that option")
            cur = await conn.execute(
                "INSERT OR IGNORE INTO poll_voters (poll_id, tag) VALUES (?, ?)", (poll_id, tag)
            )
            if cur.rowcount == 0:
                return False
            await conn.execute(
                "UPDATE poll_counts SET n = n + 1 WHERE poll_id = ? AND option = ?",
                (poll_id, option),
            )
        return True

    async def close(self, poll_id: int) -> None:
        """Stop answers and forget who answered: only the totals stay."""
        async with self._db.transaction() as conn:
            cur = await conn.execute("UPDATE polls SET open = 0 WHERE id = ?", (poll_id,))
            if cur.rowcount == 0:
                raise NotFound("no such poll")
            await conn.execute("DELETE FROM poll_voters WHERE poll_id = ?", (poll_id,))
        await self._db.checkpoint()

    async def delete(self, poll_id: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM poll_voters WHERE poll_id = ?", (poll_id,))
            await conn.execute("DELETE FROM poll_counts WHERE poll_id = ?", (poll_id,))
            await conn.execute("DELETE FROM polls WHERE id = ?", (poll_id,))
        await self._db.checkpoint()
