"""The alerts page draws each card once per alert and language (node/web/cards.py):
the second page renders nothing, another language gets its own cards, a retraction
empties the kept cards and the retracted alert is not shown again."""

from __future__ import annotations

from node.web.cards import CardCache
from protocol.alert import coarsen_hour
from protocol.retraction import RetractionBody, sign_retraction
from tests.node.test_store import KEY_A
from tests.node.test_web_pages import store_alerts
from tests.node.test_web_support import Site, site_fixture

__all__ = ["site_fixture"]


async def test_cards_are_drawn_once_per_language_and_dropped_on_a_retraction(site: Site) -> None:
    await store_alerts(site, [(f"Alert number {n}.", "other", n) for n in range(3)])
    cards: CardCache = site.state.cards
    member = await site.member("alice")
    status, first, _ = await member.get("/alerts")
    assert status == 200 and all(f"Alert number {n}." in first for n in range(3))
    assert cards.stats == (0, 3, 3)
    status, again, _ = await member.get("/alerts")
    assert cards.stats == (3, 3, 3)
    assert first.split("<main", 1)[1] == again.split("<main", 1)[1].replace(*_csrf(again, first))

    assert (await member.switch_language("fr", "/alerts"))[0] == 303
    status, french, _ = await member.get("/alerts")
    assert status == 200 and cards.stats == (3, 6, 6)
    assert all(f"Alert number {n}." in french for n in range(3))

    now = site.node.clock.now()
    [row] = await site.store.alerts.list_active(now, limit=1)
    body = RetractionBody(row.origin, row.id, "mistaken", coarsen_hour(now), now + 86400)
    retraction = sign_retraction(body, KEY_A, now)
    assert await site.store.alerts.put_retraction(retraction, hops=1, received_from=None, now=now)
    status, html, _ = await member.get("/alerts")
    assert status == 200 and cards.stats[2] == 2  # emptied, then the two still shown
    assert sum(f"Alert number {n}." in html for n in range(3)) == 2


def _csrf(page: str, other: str) -> tuple[str, str]:
    """(this page's CSRF token, the other's): the only part of a page that may differ."""

    def token(html: str) -> str:
        return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]

    return token(page), token(other)
