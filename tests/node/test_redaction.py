"""The redaction helper's findings (node/web/redaction.py): identifiers, and no false
alarms on markup or ordinary words (issue 13, item 6)."""

from __future__ import annotations

import pytest

from node.web.redaction import find_identifiers


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in find_identifiers(text, "GB")]


def test_markup_is_not_a_handle() -> None:
    # Before the fix: [("handle", "x onerror")].
    assert kinds("<img src=x onerror=alert(1)>") == []
    assert kinds('<a href="x">ig</a> <b title="tg: abc">') == []


@pytest.mark.parametrize(
    "text",
    [
        "He said he would text me, x marks the spot",
        "we met via line 5 of the tram",
        "his signal was bad",
        "insta is where he found me",
    ],
)
def test_platform_names_as_ordinary_words_are_not_handles(text: str) -> None:
    assert [k for k, _ in kinds(text)] == []


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("his insta: jay_99 and", "insta:jay_99"),
        ("telegram=@jaybird", "telegram:jaybird"),
        ("x @jay_x", "x:jay_x"),
        ("found me as @night.owl", "@night.owl"),
    ],
)
def test_handles_are_still_found(text: str, suggestion: str) -> None:
    found = find_identifiers(text, "GB")
    assert [(f.kind, f.suggestion) for f in found] == [("handle", suggestion)]


def test_identifiers_inside_markup_text_are_still_found() -> None:
    found = kinds("<p>call 07700 900456</p> mail a.b@example.org")
    assert ("phone", "07700 900456") in found and ("email", "a.b@example.org") in found
