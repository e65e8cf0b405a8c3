"""What a notification says.

Rule: by default a message says nothing that outs a member or the alert: the title is
the organisation's public name (a bland name by default) and the body the editable
"notice" text. Only a member who opted in gets the alert's structured parts in her
language (categories, danger in words, region, incident day) and its redacted
description; never an indicator, a blinded value, an alert id or an origin key.
"""

from __future__ import annotations

from protocol.alert import AlertBody

from ..setting_kinds import N_
from ..texts import OrgTexts
from ..web.i18n import Translator

MAX_BODY_CHARS = 1500


def title(texts: OrgTexts, lang: str) -> str:
    """The neutral sender line: the public name in her language."""
    t = Translator(lang)
    return texts.get("public_name", t.lang, t.gettext)


def notice(texts: OrgTexts, lang: str) -> str:
    """The content-free line (the organisation may edit it per language)."""
    t = Translator(lang)
    return texts.get("notice", t.lang, t.gettext)


def org_text(texts: OrgTexts, key: str, lang: str) -> str:
    """Any of the organisation's editable one-line texts (node/texts.py) in ``lang``."""
    t = Translator(lang)
    return texts.get(key, t.lang, t.gettext)


def alert_text(body: AlertBody, texts: OrgTexts, lang: str) -> str:
    """The opted-in message: the structured parts in ``lang`` and the description
    (in ``lang`` if the alert carries that translation, else its original)."""
    t = Translator(lang)
    description = dict(body.translations).get(t.lang, body.description)
    lines = [
        t.gettext(
            N_("New alert: %(danger)s, in %(region)s, on %(day)s."),
            danger=t.danger(body.danger),
            region=body.region,
            day=t.date(body.incident),
        ),
        t.gettext(
            N_("What happened: %(categories)s."),
            categories=", ".join(t.category(c) for c in body.categories),
        ),
    ]
    if description:
        lines.append(description)
    lines.append(notice(texts, lang))
    text = "\n".join(lines)
    return text if len(text) <= MAX_BODY_CHARS else text[: MAX_BODY_CHARS - 1] + "…"


def digest_text(count: int, texts: OrgTexts, lang: str, content: bool) -> str:
    """A daily digest: the notice, and how many alerts only for a member who opted in
    to content (a count says the message is about alerts)."""
    if not content:
        return notice(texts, lang)
    t = Translator(lang)
    line = t.ngettext("%(num)d new alert today.", "%(num)d new alerts today.", count)
    return line + "\n" + notice(texts, lang)
