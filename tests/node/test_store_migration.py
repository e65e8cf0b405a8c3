"""Stores and node.json files made before metadata sealing (schema 4) are upgraded in
place: every value reads back the same through the store, and afterwards nothing the
upgrade sealed or coarsened is left in clear in any file."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from node import config as config_mod
from node.keys.crypto import RowCrypto
from node.store import DB_FILE, Store
from node.store.members import hash_passphrase
from node.store.schema import MIGRATIONS
from tests.conftest import NodeFactory
from tests.security.test_seized_metadata import raw_hits, time_forms

T = 2_200_000_000 + 11  # not on an hour; past 2^31, so SQLite writes 6 bytes
DAY = T - T % 86400
ALERT = bytes(range(32))
REGION = "GB-ZQXJ"


def make_schema_4_store(data: Path, crypto: RowCrypto, verifier: str) -> None:
    """A store as alertnode wrote it before migration 5, with one row of each kind."""
    conn = sqlite3.connect(data / DB_FILE, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        assert isinstance(script, str)
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    conn.execute(
        "INSERT INTO members (id, nick_tag, nick_enc, pass_hash, role, created)"
        " VALUES (3, ?, ?, ?, 'caseworker', ?)",
        (crypto.tag("nickname", b"oldtimer"), crypto.seal("members", "nick", 3, b"Oldtimer"),
         verifier, T),
    )  # fmt: skip
    for report_id, status, alert in ((1, "published", ALERT), (2, "new", None)):
        body = crypto.seal("reports", "body", report_id, json.dumps({"text": "x"}).encode())
        conn.execute(
            "INSERT INTO reports (id, member_id, created, status, alert_id, body_enc)"
            " VALUES (?, 3, ?, ?, ?, ?)",
            (report_id, T + report_id, status, alert, body),
        )
    conn.execute("INSERT INTO settings VALUES ('regions', ?)", (json.dumps([REGION]),))
    conn.execute("INSERT INTO settings VALUES ('checks_per_hour', '5')")
    entry = crypto.seal("audit", "entry", 1, json.dumps({"actor": 3, "action": "x"}).encode())
    conn.execute("INSERT INTO audit (id, at, entry_enc) VALUES (1, ?, ?)", (T, entry))
    conn.execute("INSERT INTO invites VALUES (?, 'member', ?, ?)", (b"t" * 16, T, T + 14 * 86400))
    conn.execute(
        "INSERT INTO alerts (id, origin, state, created, expires, hops, max_hops, tlp,"
        " stored_at) VALUES (?, ?, 'retracted', 0, ?, 0, 0, 'RED', ?)",
        (ALERT, b"o" * 32, T + 86400, T),
    )
    conn.close()


async def test_a_schema_4_store_is_sealed_and_reads_the_same(tmp_path: Path) -> None:
    key = os.urandom(32)
    verifier = hash_passphrase("an old passphrase")
    make_schema_4_store(tmp_path, RowCrypto(key), verifier)
    needles = {
        "verifier": [verifier.encode(), b"$argon2id$"],
        "region": [REGION.encode()],
        "time": time_forms(T),
        "status": [b"published"],
    }
    assert sorted({what for _, what in raw_hits(tmp_path, needles)}) == sorted(needles)

    store = await Store.open(tmp_path, key)
    try:
        member, got = await store.members.credentials("oldtimer")
        assert member is not None and (member.id, member.role, member.nickname) == (
            3, "caseworker", "Oldtimer",
        )  # fmt: skip
        assert got == verifier and member.created == DAY
        assert await store.members.pass_hash(3) == verifier
        reports = {r.id: r for r in await store.reports.list()}
        assert (reports[1].status, reports[1].alert_id, reports[1].created) == (
            "published", ALERT, DAY,
        )  # fmt: skip
        assert (reports[2].status, reports[2].alert_id, reports[2].content) == (
            "new", None, {"text": "x"},
        )  # fmt: skip
        assert [r.id for r in await store.reports.list(status="new")] == [2]
        by_alert = await store.reports.by_alert(ALERT)
        assert by_alert is not None and by_alert.id == 1
        assert await store.settings.all() == {"regions": [REGION], "checks_per_hour": 5}
        assert [(e["at"], e["action"]) for e in await store.audit.list()] == [(DAY, "x")]
        [invite] = await store.members.list_invites(T)
        expires = T + 14 * 86400
        assert invite["created"] == DAY and invite["expires"] == expires - expires % 3600 + 3600
        # The claim-only row became a marker (migration 7), still dated to the hour.
        row = await store.db.fetchone("SELECT stored_at FROM markers")
        assert row is not None and row[0] == T - T % 3600
        assert (await store.db.fetchone("PRAGMA user_version"))[0] == len(MIGRATIONS)  # type: ignore[index]
    finally:
        await store.close()
    assert raw_hits(tmp_path, needles) == []

    # The rebuilt tables keep their foreign key: deleting the member takes its reports.
    store = await Store.open(tmp_path, key)
    try:
        async with store.db.transaction() as conn:
            await conn.execute("DELETE FROM members WHERE id = 3")
        assert await store.reports.list() == []
    finally:
        await store.close()


async def test_a_region_in_an_old_node_json_moves_into_the_sealed_settings(
    make_node: NodeFactory,
) -> None:
    node = await make_node(region="")
    data = node.data_dir
    raw = json.loads((data / config_mod.CONFIG_FILE).read_text())
    assert raw["region"] == ""  # init keeps it out of node.json
    raw["region"] = REGION  # as an earlier alertnode wrote it
    (data / config_mod.CONFIG_FILE).write_text(json.dumps(raw))

    node = await make_node.restart(node)  # type: ignore[attr-defined]
    settings = node.unlocked().settings
    assert settings["regions"] == [REGION] and settings["phone_region"] == "GB"
    assert await node.unlocked().store.settings.all() == {
        "regions": [REGION],
        "phone_region": "GB",
    }
    assert config_mod.load(data).region == "" and node.config.region == ""
    await node.stop()
    assert raw_hits(data, {"region": [REGION.encode()]}) == []
