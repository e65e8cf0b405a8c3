"""Node settings: one declarative table (``SETTINGS``) that drives validation (the admin
page, the CLI), the admin page's labels and help, and the settings section of
docs/admin-guide.md (``python -m node.settings --markdown``).

Rule: a setting is read through ``Settings``, which validates every value an admin
sets; an unknown name or a bad value is a UsageError whose message names the setting
by its label, in words, and changes nothing. Labels, help and messages are marked
for translation here and translated where they are shown.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from .errors import UsageError
from .languages import LANGUAGES
from .setting_kinds import (
    N_,
    QUICK_EXIT_DEFAULT,
    Choice,
    CountryCode,
    HttpsUrl,
    Kind,
    LanguageList,
    RegionList,
    Translate,
    WholeNumber,
    YesNo,
    _english,
)

DOCS_BEGIN = "<!-- settings:begin -->"
DOCS_END = "<!-- settings:end -->"


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the table. ``name`` is the key (config, form field, CLI); people read
    ``label`` and ``help``."""

    name: str
    kind: Kind
    default: Any
    label: str
    help: str


# The table. One row per setting, in the order the admin page shows them:
#   Setting(name, kind, default, N_(label), N_(help))
# ``name`` is the key in node.json's settings, the form field and the CLI; ``label`` is a
# few words and ``help`` whole sentences saying what it does, both for people and both
# marked with N_() (translated where shown). ``kind`` (WholeNumber, CountryCode,
# RegionList, HttpsUrl, Choice) validates and describes the values. Add a row at the end.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "regions",
        RegionList(),
        [],
        N_("Regions"),
        N_(
            "The regions members can choose when they report an incident, browse alerts "
            "or print a bulletin. When empty, members may give any region code; a node "
            "set up with a region starts with that one."
        ),
    ),
    Setting(
        "phone_region",
        CountryCode(),
        "",
        N_("Country for phone numbers"),
        N_(
            "The country assumed for a phone number written without its international "
            "code, as members usually write local numbers. A node set up with a region "
            "starts with that region's country."
        ),
    ),
    Setting(
        "report_retention_days",
        WholeNumber(1, 3650),
        90,
        N_("Days to keep reports"),
        N_("How long a member's report is kept before it is deleted for good."),
    ),
    Setting(
        "audit_retention_days",
        WholeNumber(1, 3650),
        365,
        N_("Days to keep the audit log"),
        N_("How long the record of who published, retracted or declined what is kept."),
    ),
    Setting(
        "alert_expiry_days",
        WholeNumber(1, 365),
        90,
        N_("Days an alert lasts"),
        N_(
            "How long a newly published alert stays up, here and at other organisations, "
            "unless the caseworker chooses otherwise."
        ),
    ),
    Setting(
        "alert_hops",
        WholeNumber(0, 6),
        2,
        N_("Default hops"),
        N_(
            "How far a newly published alert may travel, unless the caseworker chooses "
            "otherwise: 0 keeps it on this node, 1 shares it with the organisations we "
            "work with directly, and each further hop lets it go one step further."
        ),
    ),
    Setting(
        "invite_expiry_days",
        WholeNumber(1, 365),
        14,
        N_("Days an invite lasts"),
        N_("How long a new invite code can be used to sign up."),
    ),
    Setting(
        "session_idle_minutes",
        WholeNumber(5, 1440),
        30,
        N_("Minutes before an idle login ends"),
        N_("A member who does nothing for this long is logged out and must log in again."),
    ),
    Setting(
        "checks_per_hour",
        WholeNumber(1, 10000),
        60,
        N_("Checks per member per hour"),
        N_(
            "How many identifiers one member may check in an hour; this slows down "
            "anyone trying to guess numbers."
        ),
    ),
    Setting(
        "login_work_bits",
        WholeNumber(8, 24),
        16,
        N_("Work to log in or sign up"),
        N_(
            "How much work a browser does before it may send the log-in or sign-up "
            "form, as a number of bits: each one more doubles it. At 16 a cheap phone "
            "needs well under a second, a computer guessing passphrases pays the same "
            "for every guess. Raise it by one or two while someone floods the log-in "
            "form; browsers without JavaScript wait a few seconds instead."
        ),
    ),
    Setting(
        "quick_exit_url",
        HttpsUrl(),
        QUICK_EXIT_DEFAULT,
        N_("Quick exit destination"),
        N_(
            "The page the quick exit button leaves for. Choose an ordinary page that "
            "opens in your members' countries and looks natural in a phone's history, "
            "like a weather or search page; it must not be blocked where they live."
        ),
    ),
)
SETTINGS += (
    Setting(
        "report_withdrawal",
        Choice(
            ("caseworker", "immediate"),
            (
                N_("a caseworker confirms each withdrawal"),
                N_("the alert is retracted as soon as she asks"),
            ),
        ),
        "caseworker",
        N_("When a member withdraws her report"),
        N_(
            "A member can ask for the alert made from her report to be withdrawn. With "
            "caseworker, the request waits in the review queue until a caseworker "
            "confirms it; with immediate, the alert is retracted at once. Either way "
            "the retraction tells other organisations it was withdrawn at the "
            "reporter's request."
        ),
    ),
)


# Issue 13 items 10 and 13: which languages pages offer; members' own invites.
SETTINGS += (
    Setting(
        "languages",
        LanguageList(),
        list(LANGUAGES),
        N_("Languages offered"),
        N_(
            "The languages members can choose at the foot of every page and that a "
            "browser's own language choice can select. English is always offered, as "
            "the language every other one falls back to."
        ),
    ),
    Setting(
        "member_invites_per_month",
        WholeNumber(0, 50),
        0,
        N_("Invites each member may create a month"),
        N_(
            "Lets members vouch for people they know, as many sex-worker groups vet new "
            "members: each member may create this many member invites in a calendar "
            "month. 0 turns it off. The node never records who invited whom; you see "
            "only how many invites members created and how many people joined with one."
        ),
    ),
)
SETTINGS += (
    Setting(
        "area_warnings",
        YesNo(),
        False,
        N_("Area warnings"),
        N_(
            "Whether caseworkers may publish, and members see, warnings that name no "
            "person: a police or immigration operation, a hunt through a dating app, an "
            "area to avoid. They reach members faster than rumour and travel to the "
            "organisations we work with like alerts, but they are about the police and "
            "the state rather than clients, which can draw attention to the organisation "
            "where sharing them is risky. When off, this node neither publishes warnings "
            "nor takes them from other organisations, and turning them off removes the "
            "warnings it holds (its own stay with other organisations until they expire, "
            "unless retracted first)."
        ),
    ),
)
BY_NAME = {s.name: s for s in SETTINGS}


def validate(name: str, value: object, t: Translate = _english) -> Any:
    """The value to store for ``name``; messages go through ``t``. Raises UsageError."""
    setting = BY_NAME.get(name)
    if setting is None:
        raise UsageError(t(N_("There is no setting called %(name)s.")) % {"name": name[:64]})
    return setting.kind.parse(value, t(setting.label), t)


def region_defaults(region: str) -> dict[str, Any]:
    """What a node set up with ``region`` (``init --region``) starts with: that region
    and its country. Empty for no region. Raises UsageError for a bad code."""
    if not region:
        return {}
    return {
        "regions": validate("regions", [region]),
        "phone_region": validate("phone_region", region[:2]),
    }


class Settings:
    """Current values: the stored ones over the defaults."""

    def __init__(self, stored: dict[str, Any]) -> None:
        self._values = {s.name: s.default for s in SETTINGS}
        self._values.update({k: v for k, v in stored.items() if k in BY_NAME})

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def set(self, name: str, value: Any) -> Any:
        self._values[name] = validate(name, value)
        return self._values[name]

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)


# --- the docs --------------------------------------------------------------------


def markdown() -> str:
    """The settings section of docs/admin-guide.md, between (and with) its markers."""
    lines = [
        DOCS_BEGIN,
        "<!-- Generated from node/settings.py by `python -m node.settings --markdown`;"
        " edit the table there, not this list. -->",
        "",
    ]
    for s in SETTINGS:
        default = s.kind.show(s.default) or "none"
        lines.append(
            f"- **{s.label}** (`{s.name}`): {s.help} {s.kind.describe(_english)}"
            f" Default: {default}."
        )
    lines.append(DOCS_END)
    return "\n".join(lines) + "\n"


def with_markdown(document: str) -> str:
    """``document`` with its settings section replaced by ``markdown()``. Raises
    UsageError when the markers are missing."""
    start, end = document.find(DOCS_BEGIN), document.find(DOCS_END)
    if start < 0 or end < start:
        raise UsageError(f"the document has no {DOCS_BEGIN} ... {DOCS_END} section")
    rest = document[end + len(DOCS_END) :]
    return document[:start] + markdown() + rest.removeprefix("\n")


def main(argv: list[str]) -> int:
    """``--markdown``: print the docs section; ``--update FILE``: rewrite it in FILE."""
    if argv == ["--markdown"]:
        sys.stdout.write(markdown())
        return 0
    if len(argv) == 2 and argv[0] == "--update":
        with open(argv[1], encoding="utf-8") as f:
            text = f.read()
        with open(argv[1], "w", encoding="utf-8") as f:
            f.write(with_markdown(text))
        return 0
    sys.stderr.write("usage: python -m node.settings --markdown | --update docs/admin-guide.md\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
