"""Members' phone numbers for the SMS check (issue 15, point 2).

Rule: a number is stored sealed and found by a keyed tag of its E.164 form, never in
clear; one number per member, removed with her account or whenever she asks; nothing
here is logged or exported.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..keys.crypto import RowCrypto
from .db import Database


@dataclass(frozen=True, slots=True)
class Gateway:
    secret: str  # the signing key the gateway and the node share
    channel: str  # the notification channel answers go by ("" : in the response)
    url: str  # the exact URL the gateway calls, where its signature covers it ("" : none)


@dataclass(frozen=True, slots=True)
class SmsMember:
    member_id: int
    lang: str


class SmsStore:
    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self._db = db
        self._crypto = crypto

    def _tag(self, e164: str) -> bytes:
        return self._crypto.tag("sms-phone", e164.encode())

    async def set_number(self, member_id: int, e164: str, lang: str) -> None:
        """Opt a member in with her number (in E.164), replacing any earlier one."""
        sealed = self._crypto.seal("sms_numbers", "phone", member_id, e164.encode())
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM sms_numbers WHERE member_id = ?", (member_id,))
            await conn.execute("DELETE FROM sms_numbers WHERE phone_tag = ?", (self._tag(e164),))
            await conn.execute(
                "INSERT INTO sms_numbers (phone_tag, member_id, phone_enc, lang)"
                " VALUES (?, ?, ?, ?)",
                (self._tag(e164), member_id, sealed, lang),
            )

    async def remove(self, member_id: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM sms_numbers WHERE member_id = ?", (member_id,))
        await self._db.checkpoint()

    async def number(self, member_id: int) -> str | None:
        row = await self._db.fetchone(
            "SELECT phone_enc FROM sms_numbers WHERE member_id = ?", (member_id,)
        )
        if row is None:
            return None
        return self._crypto.open("sms_numbers", "phone", member_id, row[0]).decode()

    async def member(self, e164: str) -> SmsMember | None:
        """The active member who opted in with this number, or None."""
        row = await self._db.fetchone(
            "SELECT s.member_id, s.lang FROM sms_numbers s JOIN members m ON m.id = s.member_id"
            " WHERE s.phone_tag = ? AND m.revoked = 0",
            (self._tag(e164),),
        )
        return None if row is None else SmsMember(row[0], row[1])

    # --- gateways ---------------------------------------------------------------------

    async def set_gateway(self, kind: str, secret: str, channel: str, url: str = "") -> None:
        """Keep a gateway's signing secret (sealed), the channel replies go by and the
        URL it calls (where its signature covers the URL)."""
        sealed = self._crypto.seal("sms_gateways", "secret", kind, secret.encode())
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO sms_gateways (kind, secret_enc, channel, url)"
                " VALUES (?, ?, ?, ?)",
                (kind, sealed, channel, url),
            )

    async def gateway(self, kind: str) -> Gateway | None:
        """A gateway set up, or None."""
        row = await self._db.fetchone(
            "SELECT secret_enc, channel, url FROM sms_gateways WHERE kind = ?", (kind,)
        )
        if row is None:
            return None
        secret = self._crypto.open("sms_gateways", "secret", kind, row[0]).decode()
        return Gateway(secret, row[1], row[2])

    async def gateways(self) -> list[tuple[str, str]]:
        """(kind, reply channel) of every gateway set up; never a secret."""
        rows = await self._db.fetchall("SELECT kind, channel FROM sms_gateways ORDER BY kind")
        return [(r[0], r[1]) for r in rows]

    async def status(self) -> dict[str, object]:
        """For ``status``: the gateways set up (kind, reply channel) and how many
        members saved a number; never a secret or a number."""
        row = await self._db.fetchone("SELECT count(*) FROM sms_numbers")
        return {
            "gateways": [{"kind": k, "reply_channel": c} for k, c in await self.gateways()],
            "members": int(row[0]) if row else 0,
        }

    async def remove_gateway(self, kind: str) -> bool:
        async with self._db.transaction() as conn:
            cur = await conn.execute("DELETE FROM sms_gateways WHERE kind = ?", (kind,))
            return cur.rowcount > 0
