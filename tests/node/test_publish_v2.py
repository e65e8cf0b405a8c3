"""Publishing v2 alerts through the service: every publish is a new alert, an
idempotency key makes a repeated publish one alert, translations and the partner
flag reach the wire and the JSON, TLP caps the hops."""

from __future__ import annotations

import pytest

from federation.clock import FakeClock
from node.errors import UsageError
from node.service import IDEMPOTENCY_TTL_S, MAX_IDEMPOTENCY_KEYS, AlertService, Idempotency
from protocol.alert import read_stored_alert
from protocol.fields import TLP_MAX_HOPS
from tests.conftest import NodeFactory
from tests.federation.nodes import draft

PHONE = "07700 900123"


def service(node: object) -> AlertService:
    return node.unlocked().alerts  # type: ignore[attr-defined, no-any-return]


async def test_the_same_words_after_a_retraction_are_a_new_alert_that_check_finds(
    make_node: NodeFactory,
) -> None:
    alerts = service(await make_node())
    first = await alerts.publish(draft(1, phone=PHONE))
    await alerts.retract(first, "mistaken")
    assert (await alerts.check("phone", PHONE))["matches"] == 0
    again = await alerts.publish(draft(1, phone=PHONE))
    assert again != first
    found = await alerts.check("phone", PHONE)
    assert [a["id"] for a in found["alerts"]] == [again.hex()]


async def test_an_idempotency_key_makes_a_repeated_publish_one_alert(
    make_node: NodeFactory,
) -> None:
    alerts = service(await make_node())
    first = await alerts.publish(draft(1, phone=PHONE, idempotency_key="form-123"))
    assert await alerts.publish(draft(1, phone=PHONE, idempotency_key="form-123")) == first
    assert len(await alerts.list()) == 1
    # Another key, or none, is another alert; the same key for other words is refused.
    assert await alerts.publish(draft(1, phone=PHONE, idempotency_key="form-456")) != first
    assert await alerts.publish(draft(1, phone=PHONE)) != first
    with pytest.raises(UsageError, match="different alert"):
        await alerts.publish(draft(2, phone=PHONE, idempotency_key="form-123"))
    assert len(await alerts.list()) == 3


def test_the_idempotency_record_is_keyed_bounded_and_expires() -> None:
    clock = FakeClock()
    record = Idempotency(lambda n: b"\x01" * n, clock)
    record.put("key-0", b"d", b"id-0")
    # Only a keyed hash is kept, never the key as given.
    assert b"key-0" not in repr(record._seen).encode()
    assert record.get("key-0", b"d") == b"id-0"
    clock.advance(IDEMPOTENCY_TTL_S)
    assert record.get("key-0", b"d") is None
    for i in range(MAX_IDEMPOTENCY_KEYS + 1):
        record.put(f"key-{i}", b"d", b"id")
    assert len(record) == MAX_IDEMPOTENCY_KEYS
    assert record.get("key-0", b"d") is None  # the oldest went first
    with pytest.raises(UsageError):
        record.get("", b"d")


async def test_translations_and_the_partner_flag_travel_and_show(make_node: NodeFactory) -> None:
    alerts = service(await make_node())
    alert_id = await alerts.publish(
        draft(
            1,
            phone=PHONE,
            description="Took the money back.",
            translations=[("fr", " A repris l'argent. "), ("de", "")],
            partner_checks=True,
        )
    )
    (shown,) = (await alerts.check("phone", PHONE))["alerts"]
    assert shown["id"] == alert_id.hex()
    assert (shown["description"], shown["lang"]) == ("Took the money back.", "en")
    assert shown["descriptions"] == {"en": "Took the money back.", "fr": "A repris l'argent."}
    assert shown["partner_checks"] is True
    default = await alerts.publish(draft(2))
    listed = {a["id"]: a for a in await alerts.list()}
    assert listed[default.hex()]["partner_checks"] is False


@pytest.mark.parametrize("label", ["AMBER", "AMBER+STRICT", "RED"])
async def test_the_label_caps_the_hops_a_caseworker_asked_for(
    make_node: NodeFactory, label: str
) -> None:
    node = await make_node()
    alerts = service(node)
    alert_id = await alerts.publish(draft(1, hops=3, tlp=label))
    stored = await node.unlocked().store.alerts.get_alert(alert_id, node.clock.now())
    assert stored is not None
    assert read_stored_alert(stored.envelope).hops == TLP_MAX_HOPS[label]
