"""Alert cards (templates/_alert.html) rendered once per alert and language, kept.

Rule: a card is drawn only from the alert's own fields (which never change under its
id), the organisation name this node gives its origin, and the reader's language; so
those are its key, and a kept card is never stale. Whether an alert is shown at all is
decided by the store's query on every page, never here. The cache is bounded
(``MAX_CARDS`` cards, ``MAX_CARD_CHARS`` characters) and belongs to one unlocking of
the node (a new ``AlertService`` starts it afresh; a locked node's cards are dropped
when its service is collected, or at the latest on the next alerts page); it is
emptied with the store's ``removals`` count like the decoded fields
(node/display.py): a retracted or purged alert's card is not kept.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import jinja2
from markupsafe import Markup

from ..display import BoundedCache
from .i18n import Translator

# A card is typically ~700 characters; the bound in characters covers long ones.
MAX_CARDS = 2_000
MAX_CARD_CHARS = 4_000_000

CardKey = tuple[str, str, str, bool]


class CardCache:
    def __init__(self) -> None:
        self._owner: weakref.ref[object] | None = None
        self._cards: BoundedCache[CardKey, Markup] = BoundedCache(MAX_CARDS, MAX_CARD_CHARS)

    @property
    def stats(self) -> tuple[int, int, int]:
        """(hits, misses, cards kept)."""
        return self._cards.hits, self._cards.misses, len(self._cards)

    def cards(
        self,
        env: jinja2.Environment,
        t: Translator,
        owner: object,
        removals: int,
        alerts: Sequence[dict[str, Any]],
    ) -> list[Markup]:
        """One rendered card per alert (``alert_json`` shapes), in order. ``owner`` is
        the unlocked alert service the alerts came from; ``removals`` the store's count."""
        if self._owner is None or self._owner() is not owner:
            self._cards.forget()
            # Dropped too once the locked node's service is collected.
            self._owner = weakref.ref(owner, lambda _: self._cards.forget())
        module: Any = None
        out = []
        for a in alerts:
            key = (a["id"], t.lang, a["organisation"], a["origin_known"])
            card = self._cards.get(key, removals)
            if card is None:
                if module is None:
                    module = env.get_template("_alert.html").make_module(
                        vars={**t.template_globals(), "lang": t.lang, "html_lang": t.html_lang}
                    )
                card = Markup(module.alert_card(a))  # noqa: S704 (the template escaped it)
                self._cards.put(key, card, len(card))
            out.append(card)
        return out
