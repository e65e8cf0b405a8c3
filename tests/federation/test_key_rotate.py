"""A node rotates its own key: peers told follow it, old alerts stay retractable,
and the new key survives a restart."""

from __future__ import annotations

from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually, has_alert, pair


async def test_rotate_tells_peers_and_keeps_old_alerts_retractable(
    make_node: NodeFactory,
) -> None:
    a, b = await make_node("A"), await make_node("B")
    await pair(a, b)
    old_key = a.config.key
    old_alert = await a.unlocked().alerts.publish(draft(1))
    await eventually(lambda: has_alert(b, old_alert))

    result = await a.rotate_key()
    assert result["key"] != old_key and result["told"] == ["B"] and result["missed"] == []
    assert result["owed"] == 0
    assert result["card"].startswith("alertnode-card:2:")
    peers_b = b.unlocked().store.peers
    assert await peers_b.get(bytes.fromhex(result["key"])) is not None
    assert await peers_b.get(bytes.fromhex(old_key)) is None

    # Sync goes on under the new key, both ways.
    new_alert = await a.unlocked().alerts.publish(draft(2))
    await eventually(lambda: has_alert(b, new_alert))
    from_b = await b.unlocked().alerts.publish(draft(3))
    await eventually(lambda: has_alert(a, from_b))
    # The alert signed by the old key can still be retracted, and the retraction travels.
    await a.unlocked().alerts.retract(old_alert, "resolved")
    await eventually(lambda: _gone(b, old_alert))
    assert (await a.unlocked().alerts.check("phone", "+447700900123"))["matches"] == 0

    # After a restart the node is still the new key, and still holds the old one.
    a2 = await make_node.restart(a)  # type: ignore[attr-defined]
    assert a2.config.key == result["key"] and len(a2.unlocked().keys.previous) == 1
    listed = {x["id"]: x["organisation"] for x in await a2.unlocked().alerts.list(limit=-1)}
    assert listed[new_alert.hex()] == "A" and listed[from_b.hex()] == "B"


async def _gone(node, alert_id: bytes) -> bool:  # type: ignore[no-untyped-def]
    return not await has_alert(node, alert_id)
