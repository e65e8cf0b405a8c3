"""A seized, locked node shows no member-linked metadata (issue 12, item 9).

A whole member life runs through the web app on a passphrase-protected node, with a
fake clock: sign-ups, reports, a publish from a report, a decline, settings changes
(regions), an invite, a retraction, a passphrase change, a revocation and an account
deletion. The node is then restarted without its passphrase (running, locked) and
stopped; both times every byte of the data directory is scanned for:

- a member's passphrase verifier (the Argon2id string, or any part of it);
- a region name the node was set up with or an admin chose;
- the exact second of any member action, in every encoding a store, a msgpack or
  JSON value or a timestamp string would give it;
- a link from a report (or anything else that names a member) to an alert id.

The clock runs past 2^31 so that SQLite writes each time as 6 bytes (two of them
zero): a random hit of one in the ciphertexts is then ~2^-48 per position, so the
scan cannot flake. The scanner's positive controls are at the end.
"""

from __future__ import annotations

import datetime
import re
import shutil
import sqlite3
import struct
from pathlib import Path

from aiohttp.test_utils import TestServer

from node.app import Node
from node.store.db import DB_FILE
from node.web import web_app
from tests.conftest import NodeFactory
from tests.node.test_web_flow import editor_fields
from tests.node.test_web_support import PASSPHRASE, Site, StillClock, Visitor

# 2039-09-18, 06:43:31 UTC: past 2^31, and not on an hour or a day.
START = 2_200_000_000 + 11
assert START > 2**31 and START % 3600
ADMIN_PASSPHRASE = "admin passphrase for the seized node"
INIT_REGION = "GB-ZQXJ"
CHOSEN_REGIONS = ("GB-QWKV", "FR-ZQXR")
REGIONS = (INIT_REGION, *CHOSEN_REGIONS)
# Tables of the alerts themselves (public to the network; none names a member or report).
ALERT_TABLES = {"alerts", "log", "indicators", "retractions", "alert_facets"}
NEW_PASSPHRASE = "a changed long passphrase"


def time_forms(t: int) -> list[bytes]:
    """Every way a store, a serialiser or a log line could write ``t``."""
    at = datetime.datetime.fromtimestamp(t, datetime.UTC)
    decimal = str(t)
    return [
        t.to_bytes(6, "big"),  # an SQLite integer of this size
        t.to_bytes(8, "big"),
        t.to_bytes(8, "little"),
        b"\xce" + t.to_bytes(4, "big"),  # msgpack uint32
        struct.pack(">d", float(t)),  # an SQLite real
        struct.pack("<d", float(t)),
        decimal.encode(),
        decimal.encode("utf-16-le"),
        at.strftime("%Y-%m-%dT%H:%M:%S").encode(),
        at.strftime("%Y-%m-%d %H:%M:%S").encode(),
    ]


def raw_hits(data: Path, needles: dict[str, list[bytes]]) -> list[tuple[str, str]]:
    hits = []
    for path in sorted(data.rglob("*")):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        for what, forms in needles.items():
            if any(form in raw for form in forms):
                hits.append((path.name, what))
    return hits


def cells_naming_alerts(data: Path, alert_ids: list[bytes], scratch: Path) -> list[str]:
    """Every cell outside the alert tables that holds an alert id (raw or hex). Read
    from a copy: opening the database, even read-only, may touch its files."""
    scratch.mkdir()
    for path in data.glob(DB_FILE + "*"):
        shutil.copy(path, scratch / path.name)
    conn = sqlite3.connect(scratch / DB_FILE)
    forms = [f for a in alert_ids for f in (a, a.hex().encode(), a.hex().upper().encode())]
    found = []
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            if table in ALERT_TABLES:
                continue
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # noqa: S608
                for cell in row:
                    raw = cell.encode() if isinstance(cell, str) else cell
                    if isinstance(raw, bytes) and any(f in raw for f in forms):
                        found.append(table)
    finally:
        conn.close()
    return found


class Life:
    """One member life on a node, recording what a seizure must not reveal."""

    def __init__(self, node: Node, site: Site, clock: StillClock) -> None:
        self.node, self.site, self.clock = node, site, clock
        self.moments: list[tuple[str, int]] = []
        self.verifiers: list[str] = []

    def step(self, what: str, seconds: int = 37) -> None:
        """Move the clock an odd number of seconds on, and note the moment of ``what``."""
        self.clock.advance(seconds)
        self.moments.append((what, self.clock.now()))

    async def join(self, nickname: str, role: str = "member") -> Visitor:
        self.step(f"{nickname} signs up")
        visitor = await self.site.member(nickname, role)
        await self.note_verifier(nickname)
        return visitor

    async def note_verifier(self, nickname: str) -> None:
        member, verifier = await self.site.store.members.credentials(nickname)
        assert member is not None and verifier and verifier.startswith("$argon2id$")
        self.verifiers.append(verifier)

    async def report(self, member: Visitor, region: str, text: str) -> None:
        self.step("a report")
        incident = datetime.datetime.fromtimestamp(self.clock.now(), datetime.UTC).date()
        report = {
            "categories": "violence",
            "incident": (incident - datetime.timedelta(days=1)).isoformat(),
            "region": region,
            "danger": "3",
            "phone": "+44 7700 900777",
            "person": "",
            "text": text,
            "share": "network",
        }
        status, html, _ = await member.post("/report", report)
        assert status == 303, html

    async def publish(self, worker: Visitor, report_id: int) -> None:
        self.step("a publish from a report")
        _, html, _ = await worker.get(f"/review/{report_id}")
        fields = editor_fields(html)
        fields["action"] = "publish"
        fields["keep_findings"] = "yes"
        status, html, _ = await worker.post(f"/review/{report_id}", fields)
        assert status == 303, html


async def live(node: Node, site: Site, clock: StillClock) -> tuple[Life, list[bytes]]:
    life = Life(node, site, clock)
    admin = await life.join("Rootcanary", "admin")
    alice = await life.join("Alicecanary")
    await life.report(alice, INIT_REGION, "He refused to pay.")
    await life.report(alice, INIT_REGION, "A second time.")
    worker = await life.join("Carolcanary", "caseworker")
    await life.publish(worker, 1)
    life.step("a decline")
    status, _, _ = await worker.post("/review/2/decline", {}, page="/review/2")
    assert status == 303

    life.step("a settings change")
    _, html, _ = await admin.get("/admin/settings")
    fields = dict(re.findall(r'<input id="f-([a-z_]+)" name="[a-z_]+" value="([^"]*)"', html))
    for name, options in re.findall(r'<select id="f-([a-z_]+)"[^>]*>(.*?)</select>', html, re.S):
        fields[name] = re.findall(r'<option value="([^"]*)" selected', options)[0]
    assert fields["regions"] == INIT_REGION  # init --region, sealed in the store
    fields["regions"] = " ".join(CHOSEN_REGIONS)
    fields["report_retention_days"] = "60"
    status, html, _ = await admin.post("/admin/settings", fields, page="/admin/settings")
    assert status == 303, html
    await life.report(alice, CHOSEN_REGIONS[0], "In the new region.")
    await life.publish(worker, 3)
    life.step("an invite")
    status, _, _ = await admin.post(
        "/admin/invites", {"role": "member", "days": "3"}, page="/admin/members"
    )
    assert status == 303

    service = node.unlocked().alerts
    alert_ids = [bytes.fromhex(a["id"]) for a in await service.list()]
    assert len(alert_ids) == 2
    reports = await site.store.reports.list()
    assert {r.alert_id for r in reports} == {*alert_ids, None}  # the links exist, sealed
    life.step("a retraction")
    status, _, _ = await worker.post(
        f"/published/{alert_ids[0].hex()}/retract",
        {"reason": "mistaken", "confirm": "yes"},
        page="/published",
    )
    assert status == 303

    life.step("a help request")
    help_request = {"want": "yes", "note": "Helpcanary: call me"}
    status, _, _ = await alice.post("/reports/3/help", help_request, page="/reports")
    assert status == 303
    life.step("a caseworker's answer")
    answer = {"text": "Answercanary: Tuesday", "close": "yes"}
    status, _, _ = await worker.post("/review/3/message", answer, page="/review")
    assert status == 303
    life.step("a withdrawal request")
    status, _, _ = await alice.post("/reports/3/withdraw", {"sure": "yes"}, page="/reports")
    assert status == 303
    life.step("a withdrawal")
    status, _, _ = await worker.post("/review/3/withdraw", {}, page="/review")
    assert status == 303
    assert (await site.store.reports.get(3)).status == "withdrawn"

    life.step("a passphrase change")
    change = {"current": PASSPHRASE, "new": NEW_PASSPHRASE, "new2": NEW_PASSPHRASE}
    status, _, _ = await alice.post("/account/passphrase", change, page="/account")
    assert status == 303
    await life.note_verifier("Alicecanary")

    life.step("a revocation")
    carol, _ = await site.store.members.credentials("Carolcanary")
    assert carol is not None
    status, _, _ = await admin.post(
        f"/admin/members/{carol.id}/revoke", {"confirm": "yes"}, page="/admin/members"
    )
    assert status == 303
    bob = await life.join("Bobcanary")
    life.step("an account deletion")
    delete = {"confirm": "yes", "passphrase": PASSPHRASE}
    status, _, _ = await bob.post("/account/delete", delete, page="/account")
    assert status == 200  # the answer to the POST itself says the account is gone
    return life, alert_ids


def assert_nothing_member_linked(data: Path, life: Life, alert_ids: list[bytes], at: str) -> None:
    needles: dict[str, list[bytes]] = {"an Argon2id string": [b"$argon2id$"]}
    for n, verifier in enumerate(life.verifiers):
        parts = verifier.split("$")  # '', 'argon2id', 'v=19', params, salt, hash
        needles[f"verifier {n}"] = [verifier.encode(), parts[-2].encode(), parts[-1].encode()]
    for region in REGIONS:
        needles[f"region {region}"] = [region.encode(), region.encode("utf-16-le")]
    for n, (what, t) in enumerate(life.moments):
        needles[f"the second of {what} (step {n})"] = time_forms(t)
    for n, alert_id in enumerate(alert_ids):
        needles[f"alert id {n} as text"] = [
            alert_id.hex().encode(),
            alert_id.hex().upper().encode(),
        ]
    needles["a report's status"] = [b"published", b"declined", b"withdrawn"]
    needles["a member's requests"] = [b"Helpcanary", b"Answercanary", b"reporter-request"]
    assert raw_hits(data, needles) == [], at
    assert cells_naming_alerts(data, alert_ids, data.parent / f"copy-{at}") == [], at


async def test_a_locked_nodes_files_hold_no_member_linked_metadata(
    make_node: NodeFactory,
) -> None:
    clock = StillClock(START)
    node = await make_node(region=INIT_REGION, passphrase=ADMIN_PASSPHRASE, clock=clock)
    server = TestServer(web_app(node))
    await server.start_server()
    site = Site(node, server)
    try:
        life, alert_ids = await live(node, site, clock)
    finally:
        await site.close()
    data = node.data_dir
    assert len(life.moments) >= 15

    locked = await make_node.restart(node, clock=clock)  # type: ignore[attr-defined]
    assert locked.locked
    assert_nothing_member_linked(data, life, alert_ids, "running, locked")
    await locked.stop()
    assert {p.name for p in data.iterdir()} >= {DB_FILE, "node.json", "keys.bin"}
    assert_nothing_member_linked(data, life, alert_ids, "stopped")


def test_the_scans_find_what_they_look_for(tmp_path: Path) -> None:
    # Positive controls: each kind of leak the scans above look for is found.
    t = START + 7
    data = tmp_path / "data"
    data.mkdir()
    conn = sqlite3.connect(data / DB_FILE)
    alert_id = bytes(range(32))
    conn.execute("CREATE TABLE reports (id INTEGER PRIMARY KEY, created INTEGER, alert_id BLOB)")
    conn.execute("CREATE TABLE alerts (id BLOB)")
    conn.execute("INSERT INTO reports VALUES (1, ?, ?)", (t, alert_id))
    conn.execute("INSERT INTO alerts VALUES (?)", (alert_id,))
    conn.commit()
    conn.close()
    (data / "node.json").write_text(f'{{"region": "{INIT_REGION}"}}')
    needles = {"time": time_forms(t), "region": [INIT_REGION.encode()]}
    assert sorted(raw_hits(data, needles)) == [("node.json", "region"), (DB_FILE, "time")]
    assert cells_naming_alerts(data, [alert_id], tmp_path / "copy") == ["reports"]
    for form in time_forms(t):
        (data / "node.json").write_bytes(b"x" + form + b"y")
        assert ("node.json", "time") in raw_hits(data, {"time": [form]})
