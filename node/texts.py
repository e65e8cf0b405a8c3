"""Texts the organisation owns: the public name, the public home page, the advice after
a check matches, the resources page, the "Using this safely" page and its handout.

Rule: each text has a default made of catalogue strings (so it is translated like
every other word) until an admin edits it for a language; from then on that edit wins
for that language, and clearing it brings the default back. Edits are kept as one
sealed setting (``TEXTS_SETTING``), so a seized node does not even show which
languages were edited. An admin's text is plain text: it is escaped, and only blank
lines (paragraphs), ``# `` (a heading), ``- `` (a list item) and bare https:// links
become markup (``to_html``). The defaults name neither the organisation nor what it
does, so the public pages give nothing away about sex work.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from .errors import UsageError
from .setting_kinds import N_

Translate = Callable[[str], str]

TEXTS_SETTING = "org_texts"
MAX_NAME_CHARS = 60
_URL_RE = re.compile(r"https://[^\s<>\"'`]+")
_URL_TRAILING = ".,;:!?)]}"
_BIDI_OVERRIDES = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True, slots=True)
class Text:
    """One text an admin may edit. ``default`` is a tuple of catalogue strings, one a
    paragraph, joined by blank lines; ``("#", message)`` is a heading."""

    key: str
    label: str
    help: str
    default: tuple[str | tuple[str, str], ...]
    max_chars: int
    one_line: bool = False


TEXTS: tuple[Text, ...] = (
    Text(
        "public_name",
        N_("Public name"),
        N_(
            "The name at the top of every page and in every page title, also on a "
            "phone's history and tabs. A bland name keeps a member safe when someone "
            "else looks at her phone; it need not be the organisation's name."
        ),
        (N_("Community notes"),),
        MAX_NAME_CHARS,
        one_line=True,
    ),
    Text(
        "home",
        N_("Public home page"),
        N_(
            "What anyone who opens the site without logging in reads. Anyone can see it, "
            "so say nothing that would out a member whose phone shows this page."
        ),
        (
            N_("Welcome. This site is for members only."),
            N_(
                "Log in with your nickname and passphrase, or sign up with the invite "
                "code you were given."
            ),
        ),
        2000,
    ),
    Text(
        "match_advice",
        N_("Advice after a match"),
        N_(
            "Shown to a member when a check finds an alert: what to do now and whom to "
            "contact. Put the organisation's phone number or address for help here."
        ),
        (
            N_(
                "Think about not seeing this person. If you still decide to, tell "
                "someone you trust where you will be, with whom and until when, and "
                "agree a time to check in."
            ),
            N_("If you are in danger now, leave, and call for help."),
            N_(
                "Talk to the organisation that runs this site: they can help you think "
                "it through, and want to hear if something happens."
            ),
        ),
        2000,
    ),
    Text(
        "resources",
        N_("Resources page"),
        N_(
            "A page for members: health, legal and social support the organisation "
            "recommends, with contacts. Only members who are logged in see it."
        ),
        (
            N_(
                "Services the organisation that runs this site recommends. Ask us if "
                "you need something that is not here."
            ),
            ("#", N_("Health")),
            N_(
                "In many places, health clinics test and treat for free and in "
                "confidence. You do not have to say what work you do."
            ),
            ("#", N_("Legal advice")),
            N_(
                "Laws differ from place to place. Before you answer questions from the "
                "authorities, ask for a lawyer; we can help you find one who knows your "
                "situation."
            ),
            ("#", N_("Support")),
            N_(
                "If something happened to you, you do not have to deal with it alone. "
                "We can go with you to a clinic, a lawyer or a support service, and "
                "nothing is passed on without your consent."
            ),
        ),
        6000,
    ),
    Text(
        "safety",
        N_("Using this safely"),
        N_(
            'The page "Using this safely": how to use the site from a phone without '
            "leaving traces. Anyone can see it."
        ),
        (
            N_(
                "Someone else may pick up your phone, or take it. These steps keep what "
                "you do here off it."
            ),
            ("#", N_("Private browsing")),
            N_(
                "Open this site in a private (incognito) window. When you close the "
                "window, the browser forgets the pages you saw and logs you out. Close "
                "it when you are done, not only the tab."
            ),
            ("#", N_("Lock-screen previews")),
            N_(
                "Messages and notifications can show their first lines on the lock "
                "screen, where anyone can read them. In your phone's settings, turn "
                "previews off for your browser, e-mail and message apps."
            ),
            ("#", N_("Translation apps")),
            N_(
                "Translation apps and websites keep a history of what you translate, "
                "often in an account online. Use this site in your own language instead "
                "(the languages are at the bottom of every page), and clear a "
                "translation app's history if you used one."
            ),
            ("#", N_("Feed readers")),
            N_(
                "If you follow new alerts in a feed reader, anyone who opens the reader "
                "sees them. Use a reader that locks with a code, and delete the feed "
                "from the site's feed page if your phone is lost."
            ),
            ("#", N_("Saved passwords")),
            N_(
                "Do not let the browser save your nickname or passphrase: a saved "
                "passphrase opens your account for anyone holding your phone, and it may "
                "be copied to your online account. If the browser offers to save it, "
                "choose Never. If it saved it, delete it in the browser's password "
                "settings."
            ),
            ("#", N_("The quick exit")),
            N_(
                "The quick exit button, or pressing Escape three times, leaves this site "
                "at once for an ordinary page and logs you out."
            ),
            N_(
                "It does not clear the browser's history: the pages you saw are still in "
                "it unless you used a private window. It does not close other tabs, and "
                "it does not hide that you opened this site."
            ),
        ),
        8000,
    ),
    Text(
        "handout",
        N_("Printable handout"),
        N_(
            "The one-page handout on using the site safely from a phone, to print and "
            "hand out. Keep it short enough for one page."
        ),
        (
            N_(
                "Private window: open the site in a private (incognito) window and close "
                "the window when you are done."
            ),
            N_(
                "Lock screen: turn off message and notification previews for your browser, "
                "e-mail and message apps."
            ),
            N_(
                "Translation: use the site in your own language, not through a "
                "translation app, which keeps a history."
            ),
            N_(
                "Feed readers: anyone who opens the reader sees the alerts; use one that "
                "locks with a code."
            ),
            N_(
                "Passwords: never let the browser save your passphrase; if it did, "
                "delete it in the browser's settings."
            ),
            N_(
                "Quick exit: it leaves the site and logs you out, but it does not clear "
                "the history of a normal window."
            ),
        ),
        2500,
    ),
    Text(
        "notice",
        N_("Notification message"),
        N_(
            "The line a member receives by e-mail, SMS or a messaging app when there is "
            "a new alert for her, unless she chose to receive the alert's details. It "
            "shows on her lock screen and stays in her message history: say nothing "
            "about alerts, clients or sex work."
        ),
        (N_("Something new for you; open the site."),),
        300,
        one_line=True,
    ),
    Text(
        "moved",
        N_("Message when the site moves"),
        N_(
            "The line every member who chose to receive messages gets when the site "
            "moves to a new address. Like the notification message, it shows on her lock "
            "screen: say nothing about alerts, clients or sex work."
        ),
        (N_("Our site has a new address; open it from the link we gave you, or ask us."),),
        300,
        one_line=True,
    ),
)
BY_KEY = {t.key: t for t in TEXTS}


def normalise(raw: str) -> str:
    """A text as stored and compared: Unix line ends, tabs as spaces, no control
    characters but the newline and no bidirectional overrides (which could make shown
    words read otherwise; the joiners and marks that scripts need stay), no trailing
    spaces, at most one blank line in a row."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = "".join(
        c
        for c in text
        if c == "\n" or (unicodedata.category(c) != "Cc" and c not in _BIDI_OVERRIDES)
    )
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


def validate(key: str, raw: str, t: Translate) -> str:
    """The text to keep for ``key`` ("" brings back the default). Raises UsageError
    naming the text by its label."""
    spec = BY_KEY.get(key)
    if spec is None:
        raise UsageError(t(N_("There is no such text.")))
    text = normalise(raw)
    label = t(spec.label)
    if len(text) > spec.max_chars:
        raise UsageError(
            t(N_("%(label)s can have at most %(n)d characters."))
            % {"label": label, "n": spec.max_chars}
        )
    if spec.one_line and "\n" in text:
        raise UsageError(t(N_("%(label)s must be one line.")) % {"label": label})
    return text


class OrgTexts:
    """The admin's edits over the defaults, per language."""

    def __init__(self, stored: object = None) -> None:
        self._edits: dict[str, dict[str, str]] = {}
        if isinstance(stored, Mapping):
            for lang, texts in stored.items():
                if isinstance(lang, str) and isinstance(texts, Mapping):
                    kept = {
                        k: v for k, v in texts.items() if k in BY_KEY and isinstance(v, str) and v
                    }
                    if kept:
                        self._edits[lang] = kept

    @staticmethod
    def default(key: str, t: Translate) -> str:
        return "\n\n".join(
            t(part) if isinstance(part, str) else "# " + t(part[1]) for part in BY_KEY[key].default
        )

    def get(self, key: str, lang: str, t: Translate) -> str:
        """The text for readers of ``lang``: the admin's edit, else the default in ``t``."""
        return self._edits.get(lang, {}).get(key) or self.default(key, t)

    def edited(self, key: str, lang: str) -> bool:
        return key in self._edits.get(lang, {})

    def set(self, key: str, lang: str, text: str, t: Translate) -> bool:
        """Keep ``text`` (already validated) as ``lang``'s ``key``; a text equal to the
        default, or empty, removes the edit. Whether anything changed."""
        before = self._edits.get(lang, {}).get(key)
        if not text or text == normalise(self.default(key, t)):
            self._edits.get(lang, {}).pop(key, None)
            if lang in self._edits and not self._edits[lang]:
                del self._edits[lang]
        else:
            self._edits.setdefault(lang, {})[key] = text
        return before != self._edits.get(lang, {}).get(key)

    def stored(self) -> dict[str, dict[str, str]]:
        """What the settings store keeps (sealed) under ``TEXTS_SETTING``."""
        return {lang: dict(texts) for lang, texts in self._edits.items()}


# --- rendering ---------------------------------------------------------------------


def safe_link(url: str) -> str | None:
    """``url`` if it is an https address a link may point to, else None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        return None
    return url


def _inline(line: str) -> Markup:
    """One line, escaped, with bare https:// addresses as links."""
    out = Markup("")
    pos = 0
    for match in _URL_RE.finditer(line):
        url = match.group(0).rstrip(_URL_TRAILING)
        end = match.start() + len(url)
        out += escape(line[pos : match.start()])
        if safe_link(url):
            out += Markup('<a href="%s" rel="noreferrer noopener">%s</a>') % (url, url)
        else:
            out += escape(url)
        pos = end
    return out + escape(line[pos:])


_HEADINGS = {n: Markup(f"<h{n}>%s</h{n}>") for n in range(2, 7)}  # noqa: S704 -- constants


def _flush(out: list[Markup], para: list[Markup], items: list[Markup]) -> None:
    """Close the paragraph or list being gathered, if any, onto ``out``."""
    if para:
        out.append(Markup("<p>%s</p>") % Markup("<br>\n").join(para))
        para.clear()
    if items:
        out.append(
            Markup("<ul>%s</ul>") % Markup("").join(Markup("<li>%s</li>") % i for i in items)
        )
        items.clear()


def to_html(text: str, heading: int = 2) -> Markup:
    """Plain text as HTML: blank lines part paragraphs, a line starting with ``# `` is a
    heading of level ``heading``, lines starting with ``- `` make a list, other line
    breaks stay line breaks. Everything else is escaped."""
    tag = _HEADINGS[max(2, min(heading, 6))]
    out: list[Markup] = []
    for block in normalise(text).split("\n\n"):
        para: list[Markup] = []
        items: list[Markup] = []
        for line in block.split("\n"):
            stripped = line.strip()
            if stripped.startswith("# ") and stripped[2:].strip():
                _flush(out, para, items)
                out.append(tag % _inline(stripped[2:].strip()))
            elif stripped.startswith("- ") and stripped[2:].strip():
                _flush(out, para, [])
                items.append(_inline(stripped[2:].strip()))
            elif stripped:
                _flush(out, [], items)
                para.append(_inline(stripped))
        _flush(out, para, items)
    return Markup("\n").join(out)


def texts_from(stored: Mapping[str, Any]) -> OrgTexts:
    """The edits kept in the settings store's values (``SettingsStore.all()``)."""
    return OrgTexts(stored.get(TEXTS_SETTING))
