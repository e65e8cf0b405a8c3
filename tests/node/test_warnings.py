"""Area warnings on a node: refused while the organisation has them off; published with
no indicator, category other and a short expiry; listed apart from alerts; a peer
whose setting is off never stores one (the node wires its setting into the syncer)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import aiohttp

from node.store.pages import warning_tag
from node.warnings import split
from protocol.limits import DAY_S
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually, has_alert, pair


async def call(node: Any, name: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    connector = aiohttp.UnixConnector(path=str(node.data_dir / "control.sock"))
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.post(f"http://alertnode/v1/{name}", json=args) as resp,
    ):
        return resp.status, json.loads(await resp.text())


WARNING = {"kind": "police", "danger": 2, "region": "GB", "description": "Checks at the station."}


async def test_a_warning_is_refused_until_the_organisation_turns_them_on(
    make_node: NodeFactory,
) -> None:
    a = await make_node("A")
    status, answer = await call(a, "warning.publish", WARNING)
    assert status == 400 and "area_warnings" in answer["error"]
    assert await a.unlocked().alerts.list() == []
    status, _ = await call(a, "settings.set", {"name": "area_warnings", "value": "true"})
    assert status == 200
    status, answer = await call(a, "warning.publish", WARNING)
    assert status == 200
    [item] = await a.unlocked().alerts.list()
    assert item["id"] == answer["id"] and item["warning"] == "police"
    assert item["indicators"] == [] and item["categories"] == ["other"]
    assert item["expires"] - item["created"] == 7 * DAY_S
    status, answer = await call(a, "warning.publish", {**WARNING, "expires_days": 31})
    assert status == 400 and "30 days" in answer["error"]


async def test_warnings_are_listed_apart_and_a_peer_with_them_off_takes_none(
    make_node: NodeFactory,
) -> None:
    a, b = await make_node("A"), await make_node("B")
    await pair(a, b)
    await call(a, "settings.set", {"name": "area_warnings", "value": "true"})
    _, answer = await call(a, "warning.publish", WARNING)
    warning_id = bytes.fromhex(answer["id"])
    alert_id = await a.unlocked().alerts.publish(draft(1))
    alerts, warnings = split(await a.unlocked().alerts.list())
    assert [w["id"] for w in warnings] == [warning_id.hex()]
    assert [x["id"] for x in alerts] == [alert_id.hex()]
    # B never turned them on: it takes the alert and refuses the warning.
    await b.unlocked().trust.sync_now()
    await eventually(lambda: has_alert(b, alert_id))
    assert not await has_alert(b, warning_id)


async def test_settings_set_off_removes_the_warnings_held(make_node: NodeFactory) -> None:
    """Clean-room finding (brief O2): with area_warnings turned off, `alert list`
    still showed the warnings the node held (and its peers were served them)."""
    a = await make_node("A")
    await call(a, "settings.set", {"name": "area_warnings", "value": "true"})
    _, answer = await call(a, "warning.publish", WARNING)
    alert_id = await a.unlocked().alerts.publish(draft(1))
    assert len(await a.unlocked().alerts.list()) == 2
    status, _ = await call(a, "settings.set", {"name": "area_warnings", "value": "false"})
    assert status == 200
    assert [x["id"] for x in await a.unlocked().alerts.list()] == [alert_id.hex()]
    assert not await has_alert(a, bytes.fromhex(answer["id"]))


async def test_the_retention_sweep_drops_warnings_held_while_the_setting_is_off(
    make_node: NodeFactory,
) -> None:
    """A node found holding warnings with the setting off (turned off before this fix,
    or by a path that does not drop them) holds none after its next sweep."""
    a = await make_node("A")
    await call(a, "settings.set", {"name": "area_warnings", "value": "true"})
    await call(a, "warning.publish", WARNING)
    assert (await a.run_retention())["warnings"] == 0  # on: kept
    a.unlocked().settings.set("area_warnings", False)  # not through settings set
    assert len(await a.unlocked().alerts.list()) == 1
    assert (await a.run_retention())["warnings"] == 1
    assert await a.unlocked().alerts.list() == []


async def test_the_sweep_finds_warnings_by_their_facet_and_opens_no_alert(
    make_node: NodeFactory,
) -> None:
    """Every retention pass with the setting off looked for warnings by opening the
    alerts shaped like one ("other" alone, no indicator), after looking at every alert
    in "other": about 5 s at a million alerts, holding the node's writes. A warning has
    a facet of its own now, read from an index: no alert is opened."""
    a = await make_node("A")
    await call(a, "settings.set", {"name": "area_warnings", "value": "true"})
    await call(a, "warning.publish", WARNING)
    service = a.unlocked().alerts
    await service.publish(draft(1, categories=["other", "violence"]))
    await service.publish(draft(2, categories=["other"], phone="+447700900123"))
    lookalike = await service.publish(draft(3, categories=["other"]))
    await service.publish(draft(4))
    alerts = a.unlocked().store.alerts
    crypto = alerts._crypto
    opened: list[bytes] = []

    class Counting:
        def __getattr__(self, name: str) -> object:
            return getattr(crypto, name)

        def open(self, table: str, column: str, row: bytes, sealed: bytes) -> bytes:
            opened.append(row)
            return crypto.open(table, column, row, sealed)

    alerts._crypto = Counting()  # type: ignore[assignment]
    a.unlocked().settings.set("area_warnings", False)
    assert (await a.run_retention())["warnings"] == 1
    assert opened == []
    assert await has_alert(a, lookalike)
    assert len(await service.list()) == 4
    assert (await a.run_retention())["warnings"] == 0


async def test_a_warning_pulled_from_a_peer_is_swept_when_the_setting_goes_off(
    make_node: NodeFactory,
) -> None:
    a, b = await make_node("A"), await make_node("B")
    await pair(a, b)
    for node in (a, b):
        await call(node, "settings.set", {"name": "area_warnings", "value": "true"})
    _, answer = await call(a, "warning.publish", WARNING)
    warning_id = bytes.fromhex(answer["id"])
    await b.unlocked().trust.sync_now()
    await eventually(lambda: has_alert(b, warning_id))
    b.unlocked().settings.set("area_warnings", False)  # not through settings set
    assert (await b.run_retention())["warnings"] == 1
    assert not await has_alert(b, warning_id)


async def test_warnings_stored_before_their_facet_get_it_when_the_store_opens(
    make_node: NodeFactory,
) -> None:
    a = await make_node("A")
    await call(a, "settings.set", {"name": "area_warnings", "value": "true"})
    _, answer = await call(a, "warning.publish", WARNING)
    lookalike = await a.unlocked().alerts.publish(draft(3, categories=["other"]))
    store = a.unlocked().store
    tag = warning_tag(store.crypto)
    assert len(await store.db.fetchall("SELECT 1 FROM alert_facets WHERE tag = ?", (tag,))) == 1

    def as_before(conn: sqlite3.Connection) -> None:
        # As a store made before migration 16: no warning facet.
        conn.execute("DELETE FROM alert_facets WHERE tag = ?", (tag,))
        conn.execute("PRAGMA user_version = 15")

    await store.db.write(as_before)
    a = await make_node.restart(a)  # type: ignore[attr-defined]
    store = a.unlocked().store
    assert [bytes(r[0]) for r in await store.db.fetchall(
        "SELECT alert_id FROM alert_facets WHERE tag = ?", (tag,)
    )] == [bytes.fromhex(answer["id"])]  # fmt: skip
    a.unlocked().settings.set("area_warnings", False)
    await a.run_retention()  # (the pass a node makes as it starts may purge it first)
    assert not await has_alert(a, bytes.fromhex(answer["id"]))
    assert await has_alert(a, lookalike)
