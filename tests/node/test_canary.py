"""A seized, stopped node yields no plaintext: canary strings never reach the disk."""

from __future__ import annotations

from pathlib import Path

from node.service import Draft
from node.store.members import hash_passphrase
from tests.conftest import NodeFactory

NICK = "CanaryNick7781"
PASSPHRASE = "canary passphrase 5512"
SENTENCE = "the canary sentence about a blue van near the station"
PHONE_RAW = "07700 900999"
PHONE_E164 = "+447700900999"
DESCRIPTION = "canary description: grey jacket, scar on left hand"
CANARIES = [NICK, PASSPHRASE, SENTENCE, PHONE_E164, "7700900999", DESCRIPTION, "CANARYPLATE9"]


def scan(data: Path) -> list[tuple[str, str]]:
    hits = []
    for path in data.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            for canary in CANARIES:
                for encoded in (canary.encode(), canary.encode("utf-16-le")):
                    if encoded in raw:
                        hits.append((path.name, canary))
    return hits


async def test_no_canary_on_disk_after_use_and_deletion(make_node: NodeFactory) -> None:
    node = await make_node(passphrase="admin passphrase 0001")
    unlocked = node.unlocked()
    store, service = unlocked.store, unlocked.alerts
    now = node.clock.now()
    code = await store.members.create_invite("member", now + 3600, now)
    member = await store.members.redeem_invite(code, NICK, hash_passphrase(PASSPHRASE), now)
    await store.reports.create(member.id, {"text": SENTENCE, "phone": PHONE_RAW}, now)
    kept = await store.reports.create(
        None, {"text": SENTENCE + " (kept)", "plate": "CANARYPLATE9"}, now
    )
    alert_id = await service.publish(
        Draft(
            categories=["violence"],
            danger=3,
            region="GB",
            indicators=[("phone", PHONE_RAW), ("plate", "CANARY PLATE 9")],
            description=DESCRIPTION,
        )
    )
    result = await service.check("phone", PHONE_E164)
    assert result["matches"] == 1
    await store.audit.append(
        now, {"actor": member.id, "action": "publish", "alert": alert_id.hex()}
    )
    # Delete some: the member (and their report) and the alert.
    await store.members.delete(member.id)
    await service.retract(alert_id, "mistaken")
    assert (await store.reports.get(kept)).content["plate"] == "CANARYPLATE9"
    data = node.data_dir
    await node.stop()
    files = {p.name for p in data.iterdir()}
    assert "store.db" in files
    assert scan(data) == []


async def test_scanner_finds_a_planted_canary(tmp_path: Path) -> None:
    # The scan above must be able to fail: a plaintext canary in any file is found.
    (tmp_path / "store.db").write_bytes(b"xx" + SENTENCE.encode() + b"yy")
    assert scan(tmp_path) == [("store.db", SENTENCE)]
