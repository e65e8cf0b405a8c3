"""The alert editor's form, read into a Draft: the first values from a report or an
alert being corrected, the hop cap the member's sharing choice allows, the country a
report's national numbers are read in, the indicator fields, and the redaction
helper's fixes applied to the posted description (node/web/caseworkers.py draws the
editor and publishes).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDict

from protocol.alert import AlertBody
from protocol.fields import CATEGORIES, INDICATOR_KINDS, TLP_LABELS
from protocol.limits import (
    MAX_CATEGORIES,
    MAX_DESCRIPTION_CHARS,
    MAX_HOPS,
    MAX_INCIDENT_AGE_DAYS,
    MAX_INDICATORS,
)

from ..languages import code_for_tag, html_lang
from ..service import Draft
from ..store import Report
from .context import (
    translator,
    unlocked,
)
from .forms import Form, indicator_error, phone_country
from .i18n import LANGUAGES, Translator
from .members import DANGER_CHOICES, today
from .redaction import MAX_FINDINGS, remove_text

SHARE_HOPS_CAP = {"no": None, "node": 0, "peers": 1, "network": MAX_HOPS}
MAX_INDICATOR_FIELD_CHARS = 4000


def initial_from_report(report: Report, settings: Any) -> dict[str, Any]:
    c = report.content
    cap = SHARE_HOPS_CAP.get(c.get("share", "no"))
    text = "\n\n".join(p for p in (c.get("person", ""), c.get("text", "")) if p)
    values: dict[str, Any] = {
        "categories": list(c.get("categories", [])),
        "danger": str(c.get("danger", "")),
        "region": c.get("region", ""),
        "incident": c.get("incident", ""),
        "description": text,
        "lang": c.get("lang", "en"),
        "hops": str(min(settings["alert_hops"], cap if cap is not None else 0)),
        "tlp": "GREEN" if cap != 0 else "RED",
        "expires_days": str(settings["alert_expiry_days"]),
    }
    for kind, value in c.get("indicators", {}).items():
        values[kind] = value
    return values


def initial_from_alert(body: Any, report: Report | None, settings: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "categories": list(body.categories),
        "danger": str(body.danger),
        "region": body.region,
        "incident": body.incident,
        "description": body.description,
        "lang": code_for_tag(body.lang) or "en",
        "hops": str(body.hops),
        "tlp": body.tlp,
        "expires_days": str(settings["alert_expiry_days"]),
    }
    if report is not None:
        for kind, value in report.content.get("indicators", {}).items():
            values[kind] = value
    return values


def hop_cap(report: Report | None, corrected: AlertBody | None = None) -> int:
    """The most hops the editor offers: the member's choice while her report is kept,
    and for a correction never more than the corrected alert's (which is all that is
    left of her choice once the report is purged; the service enforces it too)."""
    cap = MAX_HOPS
    if report is not None:
        member_cap = SHARE_HOPS_CAP.get(report.content.get("share", "no"))
        cap = MAX_HOPS if member_cap is None else member_cap
    if corrected is not None:
        cap = min(cap, corrected.hops)
    return cap


def report_country(form: Form, report: Report | None, phone_region: str) -> str:
    """The country the redaction helper reads numbers in: the alert's region (as typed),
    else the report's, else the node's phone_region. Its suggestions are international
    numbers, so the indicator fields accept them whatever the node's own country."""
    region = form.values.get("region") or (report.content.get("region") if report else "")
    return phone_country(region if isinstance(region, str) else "", phone_region)


def read_indicators(form: Form, t: Translator, region: str) -> list[tuple[str, str]]:
    from protocol.errors import ProtocolError
    from protocol.indicators import normalise

    pairs: list[tuple[str, str]] = []
    for kind in INDICATOR_KINDS:
        raw = form.text(kind, required=False, max_chars=MAX_INDICATOR_FIELD_CHARS, multiline=True)
        for number, line in enumerate(raw.splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            try:
                normalise(kind, line, region)
            except ProtocolError:
                message = indicator_error(t, kind, line, region)
                form.error(kind, t.gettext("Line %(n)d: %(error)s", n=number, error=message))
                break
            pairs.append((kind, line))
    if len(pairs) > MAX_INDICATORS:
        form.error("other", t.gettext("At most %(n)d identifiers in one alert.", n=MAX_INDICATORS))
    return pairs


def read_draft(
    request: web.Request, form: Form, cap: int, supersedes: bytes | None
) -> Draft | None:
    t = translator(request)
    settings = unlocked(request).settings
    categories = form.choices("categories", CATEGORIES, minimum=1, maximum=MAX_CATEGORIES)
    danger = form.choice("danger", DANGER_CHOICES)
    region = form.region("region", settings["regions"])
    incident = form.date("incident", today=today(request), max_age_days=MAX_INCIDENT_AGE_DAYS)
    indicators = read_indicators(form, t, settings["phone_region"])
    description = form.text(
        "description", required=False, max_chars=MAX_DESCRIPTION_CHARS, multiline=True
    )
    lang = form.choice("lang", LANGUAGES)
    translation_lang = form.choice("translation_lang", LANGUAGES, required=False)
    translation = form.text(
        "translation", required=False, max_chars=MAX_DESCRIPTION_CHARS, multiline=True
    )
    hops = form.integer("hops", 0, cap)
    tlp = form.choice("tlp", TLP_LABELS)
    partner_checks = form.flag("partner_checks")
    expires_days = form.integer("expires_days", 1, 365)
    # One random key per form, carried through previews: a double-submitted publish
    # returns the first alert instead of making a second one.
    key = form.text("idempotency", required=False, max_chars=64) or None
    if not form.ok or hops is None or expires_days is None:
        return None
    return Draft(
        categories=categories,
        danger=int(danger),
        region=region,
        indicators=indicators,
        description=description,
        # On the wire a language is a BCP 47 tag (zh-Hans), never a catalogue code.
        lang=html_lang(lang),
        hops=0 if tlp == "RED" else hops,
        tlp=tlp,
        expires_days=expires_days,
        incident=incident,
        supersedes=supersedes,
        translations=[(html_lang(translation_lang), translation)]
        if translation_lang and translation
        else [],
        partner_checks=partner_checks,
        idempotency_key=key,
    )


def apply_fixes(data: MultiDict[Any]) -> None:
    """Move flagged identifiers into indicator fields, or remove them, as ticked."""
    description = data.get("description", "")
    if not isinstance(description, str):
        return
    for i in range(MAX_FINDINGS):
        found, fix = data.get(f"find_{i}"), data.get(f"fix_{i}")
        kind, suggestion = data.get(f"kind_{i}"), data.get(f"sugg_{i}")
        if not all(isinstance(v, str) for v in (found, fix, kind, suggestion)):
            continue
        if fix not in ("move", "remove") or kind not in INDICATOR_KINDS or not found:
            continue
        description = remove_text(description, found)
        if fix == "move":
            existing = data.get(kind, "")
            existing = existing if isinstance(existing, str) else ""
            data[kind] = (existing.strip() + "\n" + str(suggestion)).strip()
    data["description"] = description
