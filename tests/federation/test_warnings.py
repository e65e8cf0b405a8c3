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
