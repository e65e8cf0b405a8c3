"""Card v2: pins, versions and capabilities, and the extension rule."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.card import SUPPORTED_VERSIONS, negotiate, parse_card_text, sign_card, verify_card
from protocol.encoding import pack
from protocol.errors import InvalidField
from protocol.extensions import UnsupportedExtension
from protocol.pins import sign_pins, verify_pins
from protocol.signing import Kind

from . import KEY_A, KEY_B, NOW, ORIGIN_A, signed
from .test_card import card, card_map


def test_unknown_extensions_are_accepted_and_kept_byte_exact() -> None:
    ext = {"org.example:colour": "teal", "org.example:list": (1, b"\x00" * 3)}
    data = signed(pack(card_map(ext=ext)), Kind.CARD)
    verified = verify_card(data, NOW)
    assert dict(verified.body.ext).keys() == set(ext)
    # The body rebuilt from its fields is the very bytes that were signed, and the
    # envelope (what is stored and relayed) is the one received.
    assert verified.body.to_bytes() == verified.envelope.body
    assert verified.envelope.to_bytes() == data
    assert parse_card_text(verified.to_text(), NOW).body == verified.body


def test_an_unknown_must_understand_extension_is_refused_with_its_code() -> None:
    value = card_map(ext={"org.example:new-rule": 1}, must_understand=("org.example:new-rule",))
    with pytest.raises(UnsupportedExtension) as info:
        verify_card(signed(pack(value), Kind.CARD), NOW)
    assert info.value.code == "unsupported_extension"
    assert "org.example:new-rule" in str(info.value)


@pytest.mark.parametrize(
    ("ours", "theirs", "used"),
    [((2,), (2,), 2), ((2, 3), (1, 2), 2), ((2, 3), (2, 3, 4), 3), ((1, 2, 5), (5,), 5)],
)
def test_the_highest_version_both_list_is_used(
    ours: tuple[int, ...], theirs: tuple[int, ...], used: int
) -> None:
    assert negotiate(ours, theirs) == used == negotiate(theirs, ours)


def test_a_card_with_no_common_version_is_refused() -> None:
    with pytest.raises(InvalidField) as info:
        negotiate(SUPPORTED_VERSIONS, (1,))
    assert info.value.field == "versions"
    # A later minor version alongside ours is fine: unknown caps are only names.
    later = card(versions=(2, 3), caps=("feed", "org.example:gossip", "zz-new"))
    assert sign_card(later, KEY_A, NOW).body.versions == (2, 3)


def test_a_pin_statement_names_its_signer_and_orders_by_time() -> None:
    pins = (b"\x01" * 32, b"\x02" * 32)
    statement = sign_pins(KEY_A, pins, NOW)
    again = verify_pins(statement.envelope.to_bytes(), NOW)
    assert (again.body.node, again.body.pins) == (ORIGIN_A, pins)
    assert again.newer_than(None) and again.newer_than(NOW - 1)
    assert not again.newer_than(NOW)
    body: dict[str, Any] = {"v": 2, "node": ORIGIN_A, "pins": pins, "created": NOW}
    with pytest.raises(InvalidField) as info:
        verify_pins(signed(pack(body), Kind.PINS, KEY_B), NOW)
    assert info.value.field == "node"
    for bad in ((), (b"\x02" * 32, b"\x01" * 32), (b"\x01" * 31,)):
        with pytest.raises(InvalidField):
            verify_pins(signed(pack({**body, "pins": bad}), Kind.PINS), NOW)


@pytest.mark.parametrize(
    "path", ["", "/", "/alerts", "/alerts/", "/some/prefix/", "/a.b_c~d-e", "/.well-known/x"]
)
def test_a_plain_url_path_is_accepted(path: str) -> None:
    url = "https://node.example.org" + path
    assert verify_card(signed(pack(card_map(urls=(url,))), Kind.CARD), NOW).body.urls == (url,)


@pytest.mark.parametrize(
    "path", ["//", "//a", "/a//b", "/a/../fed", "/./a", "/..", "/a%7e", "/a;b=c", "/a@b", "/a/b//"]
)
def test_a_url_path_an_http_library_could_rewrite_is_refused(path: str) -> None:
    """The path a client sends is the path it signs (docs/protocol.md section 10): a
    path with escapes or dot segments could reach the server rewritten (aiohttp and
    yarl fold "/a/../fed" to "/fed" and "%7e" to "~"), so no card may carry one."""
    value = card_map(urls=("https://node.example.org" + path,))
    with pytest.raises(InvalidField) as info:
        verify_card(signed(pack(value), Kind.CARD), NOW)
    assert info.value.field == "urls"


def test_a_card_is_checked_in_the_order_the_spec_gives() -> None:
    """docs/protocol.md section 9, "Verifying a card": fields in table order (ext before
    must_understand), then unknown keys, the signer, the times, the shared version."""

    def field_of(value: dict[str, Any], now: int = NOW, key: Any = KEY_A) -> str | None:
        with pytest.raises(InvalidField) as info:
            verify_card(signed(pack(value), Kind.CARD, key), now)
        return info.value.field

    assert field_of(card_map(ext=[1], must_understand="x")) == "ext"
    must = {"ext": {"org.example:new-rule": 1}, "must_understand": ("org.example:new-rule",)}
    # Another signer, expired, sharing no version: the extension is refused first.
    everything = card_map(**must, versions=(1,))
    assert field_of(everything, card().expires + 1, KEY_B) == "org.example:new-rule"
    assert field_of(card_map(versions=(1,)), card().expires + 1, KEY_B) == "key"
    assert field_of(card_map(versions=(1,)), card().expires + 1) == "expires"
    assert field_of(card_map(versions=(1,))) == "versions"
