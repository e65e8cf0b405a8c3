"""Area warnings (protocol/warning.py): an alert body with the must-understand
extension org.alertnode:warning; one test per rule it keeps."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.alert import Indicator, read_stored_alert, sign_alert, verify_alert
from protocol.encoding import pack
from protocol.errors import InvalidField
from protocol.extensions import UNDERSTOOD, Extensions, UnsupportedExtension
from protocol.limits import DAY_S
from protocol.warning import MAX_WARNING_EXPIRY_S, WARNING_EXT, WARNING_KINDS, warning_kind

from . import BLINDED_1, CREATED, KEY_A, KEY_ID, NOW, alert_body, signed

WARNING = Extensions.of({WARNING_EXT: "police"}, (WARNING_EXT,))


def warning_body(**changes: Any) -> Any:
    fields: dict[str, Any] = {
        "categories": ("other",),
        "indicators": (),
        "expires": CREATED + 7 * DAY_S,
        "tlp": "CLEAR",
        "hops": 2,
        "ext": WARNING,
    }
    fields.update(changes)
    return alert_body(**fields)


@pytest.mark.parametrize("kind", WARNING_KINDS)
def test_a_warning_of_each_kind_verifies_and_names_its_kind(kind: str) -> None:
    body = warning_body(ext=Extensions.of({WARNING_EXT: kind}, (WARNING_EXT,)))
    wire = sign_alert(body, KEY_A, NOW).envelope.to_bytes()
    verified = verify_alert(wire, NOW)
    assert warning_kind(verified.body.ext.get(WARNING_EXT)) == kind
    assert read_stored_alert(wire) == body


def test_an_ordinary_alert_is_no_warning() -> None:
    assert warning_kind(alert_body().ext.get(WARNING_EXT)) is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"indicators": (Indicator("phone", BLINDED_1, KEY_ID, 1),)}, "indicators"),
        ({"categories": ("violence",)}, "categories"),
        ({"categories": ("other", "violence")}, "categories"),
        ({"tlp": "GREEN", "partner_checks": True}, "partner_checks"),
        ({"supersedes": bytes(32)}, "supersedes"),
        ({"expires": CREATED + MAX_WARNING_EXPIRY_S + 3600}, "expires"),
        ({"ext": Extensions.of({WARNING_EXT: "police"})}, "must_understand"),
        ({"ext": Extensions.of({WARNING_EXT: "client"}, (WARNING_EXT,))}, WARNING_EXT),
        ({"ext": Extensions.of({WARNING_EXT: 1}, (WARNING_EXT,))}, WARNING_EXT),
    ],
)
def test_a_warning_that_breaks_a_rule_is_refused(changes: dict[str, Any], field: str) -> None:
    body = warning_body(**changes)
    with pytest.raises(InvalidField) as refused:
        verify_alert(signed(body.to_bytes()), NOW)
    assert refused.value.field == field
    with pytest.raises(InvalidField):  # and this node never signs one
        sign_alert(body, KEY_A, NOW)


def test_a_warning_at_the_longest_expiry_is_accepted() -> None:
    body = warning_body(expires=CREATED + MAX_WARNING_EXPIRY_S)
    verify_alert(signed(body.to_bytes()), NOW)


def test_a_node_that_does_not_know_warnings_refuses_them_whole() -> None:
    # An older node must not show a police operation as an alert about a client.
    assert WARNING_EXT in UNDERSTOOD
    wire = signed(warning_body().to_bytes())
    with pytest.raises(UnsupportedExtension) as refused:
        verify_alert(wire, NOW, understood=frozenset())
    assert refused.value.field == WARNING_EXT


def test_the_extension_value_is_the_kinds_canonical_bytes() -> None:
    assert WARNING.get(WARNING_EXT) == pack("police")
