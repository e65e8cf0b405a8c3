"""Members and invites.

Rule: a member is a sealed nickname, a keyed nickname tag (for unique, case-blind
lookup), a sealed Argon2id passphrase verifier, a role and the day they joined; nothing
else. The verifier is sealed under the data key, so a copy of a locked node's files
allows no offline guessing of members' passphrases (log-in needs an unlocked node
anyway). Invite codes are stored only as keyed tags, so a copy of the database cannot
be used to sign up; an invite's times are kept to the day it was made and the hour it
expires.
"""

from __future__ import annotations

import base64
import secrets
import sqlite3
import unicodedata
from dataclasses import dataclass

import nacl.exceptions
import nacl.pwhash.argon2id as argon2id

from ..errors import Forbidden, NotFound, UsageError
from ..keys.crypto import RowCrypto
from .db import Database
from .sealed import coarsen_day, month_of, open_verifier, round_up_hour, seal_verifier
from .totals import bump_in

ROLES = ("member", "caseworker", "admin")
MIN_NICK_CHARS = 3
MAX_NICK_CHARS = 32
MAX_PASSPHRASE_CHARS = 512
PASS_OPSLIMIT = 2
PASS_MEMLIMIT_BYTES = 32 * 1024 * 1024
INVITE_CODE_BYTES = 10
# Verified against when the nickname is unknown, so a wrong nickname costs the same time.
_DUMMY_HASH = argon2id.str(b"alertnode-dummy", opslimit=PASS_OPSLIMIT, memlimit=PASS_MEMLIMIT_BYTES)


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    nickname: str
    role: str
    created: int  # the day (UTC) they joined, as a Unix time


def normalise_nickname(nickname: str) -> str:
    """Raise UsageError unless ``nickname`` is 3-32 printable characters without spaces."""
    nick = unicodedata.normalize("NFKC", nickname).strip()
    if not MIN_NICK_CHARS <= len(nick) <= MAX_NICK_CHARS:
        raise UsageError(f"a nickname has {MIN_NICK_CHARS} to {MAX_NICK_CHARS} characters")
    if any(not ch.isprintable() or ch.isspace() for ch in nick):
        raise UsageError("a nickname has no spaces or invisible characters")
    return nick


def hash_passphrase(passphrase: str) -> str:
    """Argon2id hash (slow: call it off the event loop)."""
    return bytes(
        argon2id.str(passphrase.encode(), opslimit=PASS_OPSLIMIT, memlimit=PASS_MEMLIMIT_BYTES)
    ).decode()


def passphrase_matches(stored: str | None, passphrase: str) -> bool:
    """Constant-work check (slow: call it off the event loop)."""
    try:
        return bool(argon2id.verify((stored or "").encode() or _DUMMY_HASH, passphrase.encode()))
    except (nacl.exceptions.InvalidkeyError, nacl.exceptions.CryptoError, ValueError):
        return False


def normalise_invite(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def new_invite_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(INVITE_CODE_BYTES)).decode().rstrip("=")
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


class MemberStore:
    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self._db = db
        self._crypto = crypto

    def _nick_tag(self, nickname: str) -> bytes:
        return self._crypto.tag("nickname", normalise_nickname(nickname).casefold().encode())

    async def create_invite(self, role: str, expires: int, now: int) -> str:
        """A new invite code, valid until ``expires`` rounded up to the hour."""
        if role not in ROLES:
            raise UsageError(f"a role is one of {', '.join(ROLES)}")
        code = new_invite_code()
        tag = self._crypto.tag("invite", normalise_invite(code).encode())
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO invites (code_tag, role, created, expires) VALUES (?, ?, ?, ?)",
                (tag, role, coarsen_day(now), round_up_hour(expires)),
            )
        return code

    async def list_invites(self, now: int) -> list[dict[str, object]]:
        """Open invites: role, day made, hour it expires, and ``ref`` (the hex of its
        keyed tag, which names it for ``revoke_invite`` and reveals nothing of the code)."""
        rows = await self._db.fetchall(
            "SELECT role, created, expires, code_tag FROM invites WHERE expires > ?"
            " ORDER BY created, expires",
            (now,),
        )
        return [
            {"role": r[0], "created": r[1], "expires": r[2], "ref": bytes(r[3]).hex()} for r in rows
        ]

    async def revoke_invite(self, ref: str) -> None:
        """Delete the open invite ``list_invites`` names ``ref``. Raises NotFound."""
        try:
            tag = bytes.fromhex(ref)
        except ValueError:
            raise NotFound("no such invite") from None
        async with self._db.transaction() as conn:
            cur = await conn.execute("DELETE FROM invites WHERE code_tag = ?", (tag,))
            if cur.rowcount == 0:
                raise NotFound("no such invite")

    async def redeem_invite(self, code: str, nickname: str, pass_hash: str, now: int) -> Member:
        """Create a member from an invite, consuming it; ``pass_hash`` is sealed before it
        is stored. Raises UsageError or Forbidden."""
        nick = normalise_nickname(nickname)
        tag = self._crypto.tag("invite", normalise_invite(code).encode())
        async with self._db.transaction() as conn:
            async with conn.execute(
                "SELECT role, vouched FROM invites WHERE code_tag = ? AND expires > ?",
                (tag, now),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise Forbidden("that invite code is not valid or has expired")
            role, vouched = row[0], row[1]
            try:
                cur2 = await conn.execute(
                    "INSERT INTO members (nick_tag, nick_enc, pass_enc, role, created)"
                    " VALUES (?, x'', x'', ?, ?)",
                    (self._nick_tag(nick), role, coarsen_day(now)),
                )
            except sqlite3.IntegrityError:
                raise UsageError("that nickname is taken; choose another") from None
            member_id = int(cur2.lastrowid or 0)
            await conn.execute(
                "UPDATE members SET nick_enc = ?, pass_enc = ? WHERE id = ?",
                (
                    self._crypto.seal("members", "nick", member_id, nick.encode()),
                    seal_verifier(self._crypto, member_id, pass_hash),
                    member_id,
                ),
            )
            await conn.execute("DELETE FROM invites WHERE code_tag = ?", (tag,))
            if vouched:
                # A count for the month, never who vouched or who joined (vouches.py).
                await conn.execute(
                    "INSERT INTO vouch_totals (month, created, joined) VALUES (?, 0, 1)"
                    " ON CONFLICT (month) DO UPDATE SET joined = joined + 1",
                    (month_of(now),),
                )
            if role == "member":
                await bump_in(conn, "new_members", now)
        return Member(member_id, nick, role, coarsen_day(now))

    async def credentials(self, nickname: str) -> tuple[Member | None, str | None]:
        """The member with ``nickname`` and their passphrase hash, or (None, None)."""
        try:
            tag = self._nick_tag(nickname)
        except UsageError:
            return None, None
        row = await self._db.fetchone(
            "SELECT id, nick_enc, role, created, pass_enc FROM members"
            " WHERE nick_tag = ? AND revoked = 0",
            (tag,),
        )
        if row is None:
            return None, None
        return self._member(row), open_verifier(self._crypto, row[0], row[4])

    def _member(self, row: sqlite3.Row) -> Member:
        nick = self._crypto.open("members", "nick", row[0], row[1]).decode()
        return Member(row[0], nick, row[2], row[3])

    async def get(self, member_id: int) -> Member:
        row = await self._db.fetchone(
            "SELECT id, nick_enc, role, created FROM members WHERE id = ? AND revoked = 0",
            (member_id,),
        )
        if row is None:
            raise NotFound("no such member")
        return self._member(row)

    async def list(self) -> list[Member]:
        rows = await self._db.fetchall(
            "SELECT id, nick_enc, role, created FROM members WHERE revoked = 0 ORDER BY id"
        )
        return [self._member(r) for r in rows]

    async def set_pass_hash(self, member_id: int, pass_hash: str) -> None:
        sealed = seal_verifier(self._crypto, member_id, pass_hash)
        async with self._db.transaction() as conn:
            await conn.execute("UPDATE members SET pass_enc = ? WHERE id = ?", (sealed, member_id))

    async def delete(self, member_id: int) -> None:
        """Delete a member and every report they made."""
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM reports WHERE member_id = ?", (member_id,))
            cur = await conn.execute("DELETE FROM members WHERE id = ?", (member_id,))
            if cur.rowcount == 0:
                raise NotFound("no such member")
        await self._db.checkpoint()

    async def revoke(self, member_id: int) -> None:
        """Stop a member from logging in (their reports stay until retention purges them)."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE members SET revoked = 1 WHERE id = ? AND revoked = 0", (member_id,)
            )
            if cur.rowcount == 0:
                raise NotFound("no such member")

    async def pass_hash(self, member_id: int) -> str | None:
        """The passphrase hash of an active member (feeds derive their secret from it)."""
        row = await self._db.fetchone(
            "SELECT pass_enc FROM members WHERE id = ? AND revoked = 0", (member_id,)
        )
        return None if row is None else open_verifier(self._crypto, member_id, row[0])

    async def purge_invites(self, now: int) -> int:
        async with self._db.transaction() as conn:
            cur = await conn.execute("DELETE FROM invites WHERE expires <= ?", (now,))
            return cur.rowcount

    async def count(self) -> int:
        row = await self._db.fetchone("SELECT COUNT(*) FROM members WHERE revoked = 0")
        return int(row[0]) if row else 0
