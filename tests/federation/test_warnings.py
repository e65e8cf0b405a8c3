"""Area warnings between nodes (in-memory network, fake clock): they travel and are
retracted like alerts; a node whose organisation does not take them refuses them
(``warnings_off``), so it neither stores nor relays them."""

from __future__ import annotations

import dataclasses
import secrets

from protocol.alert import sign_alert
from protocol.extensions import Extensions
from protocol.warning import WARNING_EXT
from tests.federation.memnet import DAY_S, MemNet, MemNode, alert_body


async def publish_warning(node: MemNode, kind: str = "police") -> bytes:
    now = node.net.clock.now()
    body = dataclasses.replace(
        alert_body(node.key, now, "Police checks near the station tonight."),
        categories=("other",),
        indicators=(),
        expires=alert_body(node.key, now, "").created + 7 * DAY_S,
        nonce=secrets.token_bytes(16),
        ext=Extensions.of({WARNING_EXT: kind}, (WARNING_EXT,)),
    )
    warning = sign_alert(body, node.key, now)
    await node.store.alerts.put_alert(warning, hops=0, received_from=None, now=now)
    return warning.id


async def test_a_warning_travels_and_is_retracted_like_an_alert(memnet: MemNet) -> None:
    a, b, c = await memnet.node("A"), await memnet.node("B"), await memnet.node("C")
    await memnet.pair(a, b)
    await memnet.pair(b, c)
    warning = await publish_warning(a)
    assert (await b.pull(a)).stored == 1
    assert (await c.pull(b)).stored == 1  # relayed one hop further, as alerts are
    assert await c.has(warning)
    await a.retract(warning)
    await b.pull(a)
    await c.pull(b)
    assert not await b.has(warning) and not await c.has(warning)


async def test_a_node_that_takes_no_warnings_refuses_them_and_relays_none(
    memnet: MemNet,
) -> None:
    a, b, c = await memnet.node("A"), await memnet.node("B"), await memnet.node("C")
    await memnet.pair(a, b)
    await memnet.pair(b, c)
    b.syncer.accepts_warnings = lambda: False  # B's organisation left them off
    warning = await publish_warning(a)
    alert = await a.publish("an alert about a client")
    result = await b.pull(a)
    assert result.stored == 1 and result.refused == 1
    assert result.refusal_code == "warnings_off"
    assert await b.has(alert) and not await b.has(warning)
    await c.pull(b)
    assert await c.has(alert) and not await c.has(warning)
    # Turned on later, B takes the next warning (the earlier one stays refused).
    b.syncer.accepts_warnings = lambda: True
    later = await publish_warning(a, "app-hunt")
    assert (await b.pull(a)).stored == 1
    assert await b.has(later)


async def test_turning_warnings_off_drops_those_held_so_none_is_served(memnet: MemNet) -> None:
    """Clean-room finding (brief O2): B held warnings, its organisation turned them off,
    and B still offered them in its feed and id list and served their bodies."""
    from node.warnings import setting_changed

    a, b, c = await memnet.node("A"), await memnet.node("B"), await memnet.node("C")
    await memnet.pair(a, b)
    await memnet.pair(b, c)
    warning = await publish_warning(a)
    own = await publish_warning(b, "area")
    alert = await a.publish("an alert about a client")
    assert (await b.pull(a)).stored == 2
    positions = {row.id: row.pos for row in await b.store.alerts.feed(0, 100)}
    # B's organisation turns them off (the admin page and settings set call this).
    b.syncer.accepts_warnings = lambda: False
    assert await setting_changed(b.store.alerts, "area_warnings", False) == 2
    assert not await b.has(warning) and not await b.has(own) and await b.has(alert)
    listed = {row.id for row in await b.store.alerts.ids_after(None, 100)}
    assert listed == {alert}
    assert {row.id for row in await b.store.alerts.feed(0, 100)} == {alert}
    assert await b.store.alerts.rows_at([positions[warning], positions[own]]) == []
    assert await b.store.alerts.rows_by_id([warning, own]) == []
    # A peer pulling B now is offered the alert only.
    result = await c.pull(b)
    assert result.stored == 1 and result.refused == 0
    assert await c.has(alert) and not await c.has(warning) and not await c.has(own)
    # A late copy (another peer offering it) stays out while the setting is off.
    await memnet.pair(a, c)
    await memnet.pair(c, b)
    assert (await c.pull(a)).stored == 1
    late = await b.pull(c)
    assert late.stored == 0 and late.refusal_code == "warnings_off"
    assert not await b.has(warning)
    # Any other setting, or turning them on, removes nothing.
    assert await setting_changed(c.store.alerts, "area_warnings", True) == 0
    assert await setting_changed(c.store.alerts, "alert_hops", 0) == 0
    assert await c.has(warning)
