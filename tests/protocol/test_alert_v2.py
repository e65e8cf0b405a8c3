"""The v2 additions to alerts and retractions, one rule each: the nonce, translations,
TLP 2.0 reach, the partner-checks flag, and extensions (``ext`` / ``must_understand``)."""

from __future__ import annotations

import pytest

from protocol.alert import sign_alert, verify_alert
from protocol.encoding import pack, unpack
from protocol.errors import InvalidField, MalformedObject
from protocol.extensions import UNDERSTOOD, Extensions, UnsupportedExtension
from protocol.fields import TLP_LABELS, TLP_MAX_HOPS, TLP_PARTNER_LABELS
from protocol.limits import (
    MAX_DESCRIPTION_CHARS,
    MAX_DESCRIPTIONS_BYTES,
    MAX_EXT_BYTES,
    MAX_EXT_KEY_CHARS,
    MAX_EXT_KEYS,
    MAX_HOPS,
    MAX_TRANSLATIONS,
)
from protocol.retraction import sign_retraction, verify_retraction
from protocol.signing import Kind

from . import KEY_A, NOW, alert_body, body_map, retraction_body, signed

# --- nonce --------------------------------------------------------------------------


def test_the_same_words_with_another_nonce_are_another_alert() -> None:
    first = sign_alert(alert_body(), KEY_A, NOW)
    again = sign_alert(alert_body(nonce=bytes(16)), KEY_A, NOW)
    assert first.body.description == again.body.description
    assert first.id != again.id


# --- translations -------------------------------------------------------------------

TRANSLATED = (("fr", "A repris l'argent."), ("pt-BR", "Pegou o dinheiro."))


def test_translations_round_trip_sorted_by_tag() -> None:
    body = alert_body(translations=TRANSLATED)
    wire = sign_alert(body, KEY_A, NOW).envelope.to_bytes()
    assert verify_alert(wire, NOW).body.translations == TRANSLATED
    assert list(body.descriptions()) == ["en", "fr", "pt-BR"]  # the original first


@pytest.mark.parametrize(
    ("wanted", "lang"),
    [
        (["fr"], "fr"),
        (["FR"], "fr"),
        (["pt"], "pt-BR"),
        (["pt-PT"], "pt-BR"),
        (["de", "fr"], "fr"),
        (["de"], "en"),
        ([], "en"),
        (["en-GB"], "en"),
    ],
)
def test_a_reader_sees_their_own_language_else_the_original(wanted: list[str], lang: str) -> None:
    body = alert_body(translations=TRANSLATED)
    assert body.description_for(wanted) == (lang, body.descriptions()[lang])


def test_at_most_max_translations() -> None:
    tags = [f"x{chr(97 + i)}" for i in range(MAX_TRANSLATIONS + 1)]
    fine = alert_body(translations=tuple((t, "t") for t in tags[:MAX_TRANSLATIONS]))
    verify_alert(signed(fine.to_bytes()), NOW)
    over = alert_body(translations=tuple((t, "t") for t in tags))
    with pytest.raises(InvalidField) as info:
        verify_alert(signed(over.to_bytes()), NOW)
    assert info.value.field == "translations"


def test_all_description_text_is_bounded_in_bytes() -> None:
    # Four 2000-character texts of 1-byte characters and 192 more bytes fit; one more
    # byte does not.
    text = "x" * MAX_DESCRIPTION_CHARS
    room = MAX_DESCRIPTIONS_BYTES - 4 * MAX_DESCRIPTION_CHARS
    fits = (("fr", text), ("de", text), ("es", text), ("it", "y" * room))
    verify_alert(
        signed(alert_body(description=text, translations=tuple(sorted(fits))).to_bytes()), NOW
    )
    over = (("fr", text), ("de", text), ("es", text), ("it", "y" * (room + 1)))
    body = alert_body(description=text, translations=tuple(sorted(over)))
    with pytest.raises(InvalidField) as info:
        verify_alert(signed(body.to_bytes()), NOW)
    assert info.value.field == "translations"
    assert str(MAX_DESCRIPTIONS_BYTES) in str(info.value)


# --- TLP 2.0 reach and the partner flag ---------------------------------------------


@pytest.mark.parametrize("label", TLP_LABELS)
def test_each_label_allows_up_to_its_hops_and_no_more(label: str) -> None:
    most = TLP_MAX_HOPS[label]
    verify_alert(signed(alert_body(tlp=label, hops=most).to_bytes()), NOW)
    if most < MAX_HOPS:
        with pytest.raises(InvalidField) as info:
            verify_alert(signed(alert_body(tlp=label, hops=most + 1).to_bytes()), NOW)
        assert info.value.field == "hops"


def test_the_reach_of_each_label() -> None:
    assert dict(TLP_MAX_HOPS) == {
        "CLEAR": MAX_HOPS,
        "GREEN": MAX_HOPS,
        "AMBER": 1,
        "AMBER+STRICT": 1,
        "RED": 0,
    }


@pytest.mark.parametrize("label", TLP_LABELS)
def test_partner_checks_only_where_the_label_lets_it_out(label: str) -> None:
    body = alert_body(tlp=label, hops=0, partner_checks=True)
    if label in TLP_PARTNER_LABELS:
        assert verify_alert(signed(body.to_bytes()), NOW).body.partner_checks
    else:
        with pytest.raises(InvalidField) as info:
            verify_alert(signed(body.to_bytes()), NOW)
        assert info.value.field == "partner_checks"


def test_partner_checks_default_to_no() -> None:
    assert alert_body().partner_checks is False
    assert body_map(alert_body())["partner_checks"] is False


# --- extensions ---------------------------------------------------------------------

UNKNOWN = Extensions.of({"org.example:colour": "red", "net.other:x": {"a": (1, b"\x00")}})


def test_an_alert_with_unknown_extensions_verifies_and_keeps_them_byte_exact() -> None:
    wire = signed(alert_body(ext=UNKNOWN).to_bytes())
    got = verify_alert(wire, NOW)
    assert got.envelope.to_bytes() == wire
    assert got.body.ext == UNKNOWN
    assert got.body.to_bytes() == got.envelope.body  # re-encoding gives the signed bytes
    assert unpack(got.body.ext.get("org.example:colour") or b"") == "red"


def test_an_unknown_must_understand_extension_is_refused_with_its_code() -> None:
    ext = Extensions.of({"org.example:colour": "red"}, ("org.example:colour",))
    wire = signed(alert_body(ext=ext).to_bytes())
    with pytest.raises(UnsupportedExtension) as info:
        verify_alert(wire, NOW)
    assert info.value.code == "unsupported_extension"
    assert info.value.field == "org.example:colour"
    assert info.value.status == 422
    assert "org.example:colour" not in UNDERSTOOD
    # A node that understands it accepts it.
    verify_alert(wire, NOW, understood=frozenset({"org.example:colour"}))


def test_a_retraction_follows_the_same_extension_rules() -> None:
    wire = signed(retraction_body(ext=UNKNOWN).to_bytes(), Kind.RETRACTION)
    assert verify_retraction(wire, NOW).body.ext == UNKNOWN
    ext = Extensions.of({"org.example:why": 1}, ("org.example:why",))
    with pytest.raises(UnsupportedExtension) as info:
        verify_retraction(signed(retraction_body(ext=ext).to_bytes(), Kind.RETRACTION), NOW)
    assert info.value.field == "org.example:why"
    assert sign_retraction(retraction_body(ext=ext), KEY_A, NOW).body.ext == ext


def test_an_unknown_key_outside_ext_is_still_refused() -> None:
    for value, kind in (
        (body_map(alert_body(), colour="red"), Kind.ALERT),
        (body_map(retraction_body(), colour="red"), Kind.RETRACTION),
    ):
        with pytest.raises(MalformedObject, match="unknown fields"):
            (verify_alert if kind is Kind.ALERT else verify_retraction)(signed(value, kind), NOW)


def ext_refused(ext: object, must: object = ()) -> InvalidField:
    with pytest.raises(InvalidField) as info:
        verify_alert(signed(body_map(alert_body(), ext=ext, must_understand=must)), NOW)
    return info.value


def test_extension_bounds() -> None:
    keys = {f"org.example:k{i}": i for i in range(MAX_EXT_KEYS)}
    verify_alert(signed(body_map(alert_body(), ext=keys)), NOW)
    assert ext_refused({**keys, "org.example:one-more": 0}).field == "ext"
    big = {"org.example:a": "x" * MAX_EXT_BYTES}
    assert len(pack(big)) > MAX_EXT_BYTES
    assert ext_refused(big).field == "ext"
    long_key = "org.example:" + "k" * (MAX_EXT_KEY_CHARS - len("org.example:") + 1)
    assert ext_refused({long_key: 1}).field == "ext"


@pytest.mark.parametrize(
    "must",
    [
        ("org.example:b", "org.example:a"),  # not sorted
        ("org.example:a", "org.example:a"),  # repeated
        ("org.example:c",),  # not in ext
    ],
)
def test_must_understand_is_sorted_unique_and_names_ext_keys(must: tuple[str, ...]) -> None:
    ext = {"org.example:a": 1, "org.example:b": 2}
    assert ext_refused(ext, must).field == "must_understand"
