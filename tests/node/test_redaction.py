"""The redaction helper's findings (node/web/redaction.py): identifiers, and no false
alarms on markup or ordinary words (issue 13, item 6)."""

from __future__ import annotations

import re

import pytest

from node.web.redaction import find_identifiers
from tests.node.test_web_flow import editor_fields, send_report
from tests.node.test_web_support import Site, site_fixture  # noqa: F401


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


async def test_editor_says_what_the_helper_cannot_find_and_previews_the_card(
    site: Site,
) -> None:
    member = await site.member("alice")
    await send_report(member, text="<img src=x onerror=alert(1)> He met me at work.")
    worker = await site.member("carol", "caseworker")
    _, html, _ = await worker.get("/review")
    report_id = re.search(r'href="/review/(\d+)"', html).group(1)  # type: ignore[union-attr]
    status, html, _ = await worker.get(f"/review/{report_id}")
    assert status == 200
    assert "It cannot find names, workplaces, addresses or places" in html
    assert "Identifiers found in the description" not in html  # the markup is not a handle
    fields = editor_fields(html)
    fields["action"] = "preview"
    status, html, _ = await worker.post(f"/review/{report_id}", fields)
    assert status == 200, html
    preview = html[html.index('id="preview"') : html.index("</section>")]
    # The card a member elsewhere sees first, the wire form behind a disclosure.
    card = preview.index('<article class="alert danger-3">')
    details = preview.index("<details>")
    assert card < details < preview.index("<pre>")
    assert "He met me at work." in preview[card:details]
