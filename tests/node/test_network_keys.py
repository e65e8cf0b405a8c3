"""Network blinding keys on a real node: made at init, sealed at rest, kept across a
restart, rotated, and never in a status, a log line or any file in plaintext."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import msgpack
import pytest

from node.keys import keystore
from node.service import Draft
from protocol.indicators import NetworkKey
from tests.conftest import NodeFactory

PHONE = "+44 7700 900444"


def scan(data: Path, secrets: list[bytes]) -> list[str]:
    """Files in ``data`` holding any of ``secrets`` raw or in hex."""
    hits = []
    for path in data.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            for secret in secrets:
                if secret in raw or secret.hex().encode() in raw:
                    hits.append(path.name)
    return hits


async def test_network_keys_are_sealed_at_rest_and_survive_a_restart(
    make_node: NodeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    node = await make_node(passphrase="admin passphrase 0001")
    data = node.data_dir
    ring = node.unlocked().trust.network
    assert len(ring.keys()) == 1  # init made a network of one
    learned = NetworkKey(bytes(range(100, 132)))
    assert ring.add([learned])
    rotated = (await node.rotate_network_key())["key_id"]
    assert ring.current.key_id.hex() == rotated
    secrets = [k.secret for k in ring.keys()]  # noqa: SIM118 (a ring, not a dict)
    assert len(secrets) == 3
    service = node.unlocked().alerts
    await service.publish(Draft(["violence"], 3, "GB", [("phone", PHONE)]))
    assert (await service.check("phone", PHONE))["matches"] == 1
    status = json.dumps(await node.status())
    assert not any(s.hex() in status for s in secrets)
    assert not any(s.hex() in caplog.text or repr(s) in caplog.text for s in secrets)
    await node.stop()
    assert scan(data, secrets) == []
    # The sealed set opens with the passphrase, whole.
    opened = keystore.unlock(data, "admin passphrase 0001")
    assert {k.secret for k in opened.network} == set(secrets)


def test_the_scan_finds_a_planted_key(tmp_path: Path) -> None:
    secret = bytes(range(32))
    (tmp_path / "keys.bin").write_bytes(b"x" + secret + b"y")
    (tmp_path / "store.db").write_bytes(secret.hex().encode())
    assert sorted(scan(tmp_path, [secret])) == ["keys.bin", "store.db"]


async def test_a_key_store_without_network_keys_gets_one_at_unlock(
    make_node: NodeFactory,
) -> None:
    node = await make_node()
    await asyncio.sleep(0.01)  # let its jobs start before it stops (as test_backup does)
    data = node.data_dir
    # A key store from before network keys: the field is absent.
    doc = msgpack.unpackb((data / keystore.KEYSTORE_FILE).read_bytes(), raw=False)
    del doc["network"]
    (data / keystore.KEYSTORE_FILE).write_bytes(msgpack.packb(doc, use_bin_type=True))
    assert keystore.unlock(data, None).network == ()
    again = await make_node.restart(node)  # type: ignore[attr-defined]
    assert len(again.unlocked().trust.network.keys()) == 1
    assert len(keystore.unlock(data, None).network) == 1
