"""Partner platforms (issue 15, point 3): their tokens, their reports, their referral
codes and the membership requests those codes open.

Rule: a partner's bearer token is never stored, only a keyed tag of it, so a copy of
the database (even unlocked) cannot call the API; its name, webhook and every report
it sends (with the organisation's answer) are sealed; a referral code is a keyed tag
with the partner it belongs to and an expiry; a membership request is sealed and
names the partner only so that counts per partner can be shown, never which
advertiser joined. Times in clear columns are days.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from protocol.limits import DAY_S

from ..errors import NotFound, UsageError
from ..keys.crypto import RowCrypto
from .db import Database
from .sealed import coarsen_day, round_up_hour

SCOPES: tuple[str, ...] = ("check", "report", "referral")
MAX_PARTNER_NAME_CHARS = 80
TOKEN_BYTES = 32
TOKEN_PREFIX = "anp_"  # noqa: S105 (a prefix that marks a partner token in logs and scanners)
REPORT_REF_BYTES = 12
REFERRAL_CODE_BYTES = 10


@dataclass(frozen=True, slots=True)
class Partner:
    id: int
    name: str
    scopes: tuple[str, ...]
    revoked: bool
    # {"url": ..., "secret": ...} where the organisation's answers are posted, or None.
    webhook: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class PartnerReport:
    id: int
    ref: str  # the id the partner sees
    partner_id: int
    created: int  # the day it arrived
    # {"account": {"phone"|"email"|"handle": ...}, "description", "status",
    #  "recommendation": None | {"action", "note"}, "kind": "account"|"complaint"}
    content: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.content.get("status", "received"))


def _normalise_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_PARTNER_NAME_CHARS:
        raise UsageError(f"a partner's name is 1 to {MAX_PARTNER_NAME_CHARS} characters")
    return name


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def new_referral_code() -> str:
    raw = secrets.token_bytes(REFERRAL_CODE_BYTES)
    text = raw.hex().upper()
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalise_referral(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


class PartnerStore:
    def __init__(self, db: Database, crypto: RowCrypto) -> None:
        self._db = db
        self._crypto = crypto

    def _name_tag(self, name: str) -> bytes:
        return self._crypto.tag("partner-name", _normalise_name(name).casefold().encode())

    def _token_tag(self, token: str) -> bytes:
        return self._crypto.tag("partner-token", token.encode())

    # --- partners -----------------------------------------------------------------

    async def add(self, name: str, scopes: tuple[str, ...], now: int) -> tuple[Partner, str]:
        """A new partner and its token (returned once, stored only as a tag).

        Raises UsageError."""
        name = _normalise_name(name)
        bad = [s for s in scopes if s not in SCOPES]
        if bad or not scopes:
            raise UsageError(f"scopes are one or more of {', '.join(SCOPES)}")
        scopes = tuple(s for s in SCOPES if s in scopes)
        token = new_token()
        async with self._db.transaction() as conn:
            try:
                cur = await conn.execute(
                    "INSERT INTO partners (name_tag, name_enc, token_tag, scopes, created)"
                    " VALUES (?, x'', ?, ?, ?)",
                    (
                        self._name_tag(name),
                        self._token_tag(token),
                        ",".join(scopes),
                        coarsen_day(now),
                    ),
                )
            except sqlite3.IntegrityError:
                raise UsageError("a partner with that name exists; choose another") from None
            pid = int(cur.lastrowid or 0)
            sealed = self._crypto.seal("partners", "name", pid, name.encode())
            await conn.execute("UPDATE partners SET name_enc = ? WHERE id = ?", (sealed, pid))
        return Partner(pid, name, scopes, False), token

    def _partner(self, row: Any) -> Partner:
        name = self._crypto.open("partners", "name", row[0], row[1]).decode()
        webhook = None
        if row[4]:
            webhook = json.loads(self._crypto.open("partners", "webhook", row[0], row[4]))
        return Partner(row[0], name, tuple(row[2].split(",")), bool(row[3]), webhook)

    _COLUMNS = "id, name_enc, scopes, revoked, webhook_enc"

    async def active(self) -> list[Partner]:
        rows = await self._db.fetchall(
            f"SELECT {self._COLUMNS} FROM partners WHERE revoked = 0 ORDER BY id"  # noqa: S608
        )
        return [self._partner(r) for r in rows]

    async def get(self, partner_id: int) -> Partner:
        row = await self._db.fetchone(
            f"SELECT {self._COLUMNS} FROM partners WHERE id = ?",  # noqa: S608
            (partner_id,),
        )
        if row is None:
            raise NotFound("no such partner")
        return self._partner(row)

    async def by_token(self, token: str) -> Partner | None:
        """The active partner whose token this is, or None (unknown or revoked)."""
        row = await self._db.fetchone(
            f"SELECT {self._COLUMNS} FROM partners"  # noqa: S608
            " WHERE token_tag = ? AND revoked = 0",
            (self._token_tag(token),),
        )
        return None if row is None else self._partner(row)

    async def find(self, name_or_id: str) -> Partner:
        """The active partner named ``name_or_id``, or with that id. Raises NotFound."""
        try:
            row = await self._db.fetchone(
                f"SELECT {self._COLUMNS} FROM partners"  # noqa: S608
                " WHERE name_tag = ? AND revoked = 0",
                (self._name_tag(name_or_id),),
            )
        except UsageError:
            row = None
        if row is None and name_or_id.strip().isdigit():
            row = await self._db.fetchone(
                f"SELECT {self._COLUMNS} FROM partners"  # noqa: S608
                " WHERE id = ? AND revoked = 0",
                (int(name_or_id.strip()),),
            )
        if row is None:
            raise NotFound("no such partner (see 'partner list')")
        return self._partner(row)

    async def revoke(self, partner_id: int) -> None:
        """Revoke a partner's token for good; its reports stay until retention."""
        async with self._db.transaction() as conn:
            await conn.execute("UPDATE partners SET revoked = 1 WHERE id = ?", (partner_id,))
            await conn.execute("DELETE FROM referral_codes WHERE partner_id = ?", (partner_id,))

    async def set_webhook(self, partner_id: int, url: str | None) -> str | None:
        """Post answers to ``url`` (None: polling only); returns the new signing secret,
        shown once. Raises NotFound."""
        await self.get(partner_id)
        secret = None
        sealed = None
        if url:
            secret = secrets.token_urlsafe(32)
            blob = json.dumps({"url": url, "secret": secret}).encode()
            sealed = self._crypto.seal("partners", "webhook", partner_id, blob)
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE partners SET webhook_enc = ? WHERE id = ?", (sealed, partner_id)
            )
        return secret

    # --- reports ------------------------------------------------------------------

    async def add_report(self, partner_id: int, content: dict[str, Any], now: int) -> str:
        """Keep a partner's report (status ``received``); returns the id it sees."""
        ref = secrets.token_hex(REPORT_REF_BYTES)
        content = {**content, "status": "received", "recommendation": None}
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO partner_reports (ref, partner_id, created, body_enc)"
                " VALUES (?, ?, ?, x'')",
                (ref, partner_id, coarsen_day(now)),
            )
            rid = int(cur.lastrowid or 0)
            sealed = self._crypto.seal("partner_reports", "body", rid, json.dumps(content).encode())
            await conn.execute(
                "UPDATE partner_reports SET body_enc = ? WHERE id = ?", (sealed, rid)
            )
        return ref

    def _report(self, row: Any) -> PartnerReport:
        content = json.loads(self._crypto.open("partner_reports", "body", row[0], row[4]))
        return PartnerReport(row[0], row[1], row[2], row[3], content)

    async def report(self, report_id: int) -> PartnerReport:
        row = await self._db.fetchone(
            "SELECT id, ref, partner_id, created, body_enc FROM partner_reports WHERE id = ?",
            (report_id,),
        )
        if row is None:
            raise NotFound("no such partner report")
        return self._report(row)

    async def report_by_ref(self, partner_id: int, ref: str) -> PartnerReport:
        """A report this partner sent (another partner's is NotFound, like no report)."""
        row = await self._db.fetchone(
            "SELECT id, ref, partner_id, created, body_enc FROM partner_reports"
            " WHERE ref = ? AND partner_id = ?",
            (ref, partner_id),
        )
        if row is None:
            raise NotFound("no such report")
        return self._report(row)

    async def reports(self) -> list[PartnerReport]:
        rows = await self._db.fetchall(
            "SELECT id, ref, partner_id, created, body_enc FROM partner_reports ORDER BY id DESC"
        )
        return [self._report(r) for r in rows]

    async def update_report(self, report_id: int, **changes: Any) -> PartnerReport:
        """Change a report's sealed fields (status, recommendation). Raises NotFound."""
        report = await self.report(report_id)
        content = {**report.content, **changes}
        sealed = self._crypto.seal(
            "partner_reports", "body", report_id, json.dumps(content).encode()
        )
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE partner_reports SET body_enc = ? WHERE id = ?", (sealed, report_id)
            )
        return PartnerReport(report.id, report.ref, report.partner_id, report.created, content)

    # --- referrals ----------------------------------------------------------------

    async def create_referrals(
        self, partner_id: int, count: int, expires: int, now: int
    ) -> list[str]:
        codes = [new_referral_code() for _ in range(count)]
        async with self._db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO referral_codes (code_tag, partner_id, created, expires)"
                " VALUES (?, ?, ?, ?)",
                [
                    (
                        self._crypto.tag("referral", normalise_referral(c).encode()),
                        partner_id,
                        coarsen_day(now),
                        round_up_hour(expires),
                    )
                    for c in codes
                ],
            )
        return codes

    async def request_membership(self, code: str, body: dict[str, Any], now: int) -> int:
        """Open a membership request with a referral code, consuming it; the request
        waits for the organisation to vet it. Raises NotFound for a bad or used code."""
        tag = self._crypto.tag("referral", normalise_referral(code).encode())
        async with self._db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT partner_id FROM referral_codes WHERE code_tag = ? AND expires > ?",
                    (tag, now),
                )
            )
            if not rows:
                raise NotFound("that code is not valid or has expired")
            partner_id = rows[0][0]
            await conn.execute("DELETE FROM referral_codes WHERE code_tag = ?", (tag,))
            cur = await conn.execute(
                "INSERT INTO membership_requests (partner_id, created, body_enc)"
                " VALUES (?, ?, x'')",
                (partner_id, coarsen_day(now)),
            )
            rid = int(cur.lastrowid or 0)
            sealed = self._crypto.seal(
                "membership_requests", "body", rid, json.dumps(body).encode()
            )
            await conn.execute(
                "UPDATE membership_requests SET body_enc = ? WHERE id = ?", (sealed, rid)
            )
        return rid

    async def membership_requests(self) -> list[tuple[int, int, dict[str, Any]]]:
        """(id, day, body) of every request waiting, oldest first; never the partner."""
        rows = await self._db.fetchall(
            "SELECT id, created, body_enc FROM membership_requests ORDER BY id"
        )
        return [
            (r[0], r[1], json.loads(self._crypto.open("membership_requests", "body", r[0], r[2])))
            for r in rows
        ]

    async def close_request(self, request_id: int, *, approved: bool) -> None:
        """Drop a request once vetted; an approval counts one more joined for its
        partner (a count, never who). Raises NotFound."""
        async with self._db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT partner_id FROM membership_requests WHERE id = ?", (request_id,)
                )
            )
            if not rows:
                raise NotFound("no such request")
            await conn.execute("DELETE FROM membership_requests WHERE id = ?", (request_id,))
            if approved and rows[0][0] is not None:
                await conn.execute(
                    "UPDATE partners SET joined = joined + 1 WHERE id = ?", (rows[0][0],)
                )
        await self._db.checkpoint()

    async def referral_counts(self) -> dict[int, dict[str, int]]:
        """Per partner: codes unused, requests waiting, members joined. Never who."""
        out: dict[int, dict[str, int]] = {}
        for pid, n in await self._db.fetchall("SELECT id, joined FROM partners"):
            out[pid] = {"unused": 0, "waiting": 0, "joined": n}
        for pid, n in await self._db.fetchall(
            "SELECT partner_id, count(*) FROM referral_codes GROUP BY partner_id"
        ):
            out.setdefault(pid, {"unused": 0, "waiting": 0, "joined": 0})["unused"] = n
        for pid, n in await self._db.fetchall(
            "SELECT partner_id, count(*) FROM membership_requests"
            " WHERE partner_id IS NOT NULL GROUP BY partner_id"
        ):
            out.setdefault(pid, {"unused": 0, "waiting": 0, "joined": 0})["waiting"] = n
        return out

    async def status(self) -> dict[str, Any]:
        """For ``status``: counts only (partners, reports by status, referral codes,
        membership requests); never a name, a token, an account or a report id."""
        (active, revoked) = (0, 0)
        for (flag,) in await self._db.fetchall("SELECT revoked FROM partners"):
            active, revoked = (active, revoked + 1) if flag else (active + 1, revoked)
        reports = {"received": 0, "reviewing": 0, "answered": 0}
        for report in await self.reports():
            if report.content.get("kind", "account") == "account":
                reports[report.status] = reports.get(report.status, 0) + 1
        referrals = {"unused": 0, "waiting": 0, "joined": 0}
        for counts in (await self.referral_counts()).values():
            for key in referrals:
                referrals[key] += counts[key]
        return {"active": active, "revoked": revoked, "reports": reports, "referrals": referrals}

    async def purge(self, cutoff: int, now: int) -> int:
        """Retention: partner reports and membership requests whose whole day lies
        before ``cutoff``, and expired referral codes. Returns the rows deleted."""
        async with self._db.transaction() as conn:
            deleted = 0
            for sql, arg in (
                ("DELETE FROM partner_reports WHERE created <= ?", cutoff - DAY_S),
                ("DELETE FROM membership_requests WHERE created <= ?", cutoff - DAY_S),
                ("DELETE FROM referral_codes WHERE expires <= ?", now),
            ):
                cur = await conn.execute(sql, (arg,))
                deleted += cur.rowcount
        if deleted:
            await self._db.checkpoint()
        return deleted
