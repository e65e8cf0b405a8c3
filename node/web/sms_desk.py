"""The SMS check for basic phones (issue 15, point 2): what a text asks, and the answer.

Rule: only a member who opted in with her number learns anything about alerts; any
other sender gets one neutral "not recognised" answer that says nothing about alerts
or about whether the number is known; a sender over her hourly limit gets no answer
at all. The answer (matches, organisations, highest danger in words) is in the
member's language and reminds her that both texts stay in her phone's history.
Nothing of a text (its sender, its words, the indicator) is logged or stored.
"""

from __future__ import annotations

import importlib
import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from protocol.errors import ProtocolError
from protocol.normalise import normalise_phone

from ..errors import NodeError, UsageError
from ..service import AlertService
from ..store.sms import SmsStore
from .i18n import N_, Translator

log = logging.getLogger(__name__)

MAX_SMS_CHARS = 480  # three concatenated texts; anything longer is not a command
# The command word in every language the site speaks (case and accents ignored).
CHECK_WORDS: frozenset[str] = frozenset(
    {"CHECK", "VERIFIER", "COMPROBAR", "VERIFICAR", "VERIFICA", "PROVERIT", "ПРОВЕРИТЬ", "ПРОВЕРКА"}
)

NOT_RECOGNISED = N_(
    "This number is not recognised. Ask the organisation to add your phone number to your account."
)
HOW_TO = N_("To check a number, e-mail or handle, text: CHECK followed by it.")
NO_MATCH = N_("No alert matches %(what)s.")
MATCHES = N_(
    "%(what)s: %(matches)d alert(s) from %(organisations)d organisation(s); highest danger: "
    "%(danger)s."
)
NOT_VALID = N_("That does not look like a phone number, e-mail or handle.")
HISTORY = N_("Both texts stay in your phone's history; delete them if someone may see it.")
UNAVAILABLE = N_("The check is not available right now; try again later.")


class SmsError(NodeError):
    """A text could not be sent (the channel failed, or none is set up)."""

    status = 502


class SmsSender(Protocol):
    """Sends one text to one number through a channel the admin set up."""

    async def send(self, to: str, text: str) -> None:
        """Raises SmsError."""
        ...


class NotifySender:
    """An SmsSender over the notification outbox's ``send_direct`` (helper n1's
    ``node.notify.outbox``), imported on first use so this module works without it."""

    def __init__(self, node: object, channel: str) -> None:
        self._node = node
        self._channel = channel

    async def send(self, to: str, text: str) -> None:
        # THE line that connects to n1's outbox: ``node.notify.outbox`` provides
        # ``send_direct(node, channel, to, text)`` (a coroutine raising NotifyError).
        # Imported by name at call time, so this module works (and type-checks)
        # before and after the outbox exists.
        try:
            outbox = importlib.import_module("node.notify.outbox")
        except ImportError:
            raise SmsError("no notification channels in this build") from None
        try:
            await outbox.send_direct(self._node, self._channel, to, text)
        except outbox.NotifyError as exc:
            raise SmsError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Command:
    kind: str  # "check", or "help" for anything else
    value: str = ""


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.upper())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def parse_command(text: str) -> Command:
    """What a text asks: ``CHECK <number|email|handle>`` in any site language."""
    words = text.strip().split(None, 1)
    if len(words) == 2 and _fold(words[0]).rstrip(":") in CHECK_WORDS:
        return Command("check", words[1].strip())
    return Command("help")


def indicator_kind(value: str) -> str:
    if "@" in value:
        return "email"
    if ":" in value:
        return "handle"
    return "phone"


class SmsDesk:
    """Answers inbound texts. ``allow(sender)`` is the per-sender limit and
    ``allow_unknown()`` the limit on all unknown senders together (each counts one)."""

    def __init__(
        self,
        numbers: SmsStore,
        alerts: AlertService,
        phone_region: Callable[[], str],
        allow: Callable[[str], bool],
        allow_unknown: Callable[[], bool] = lambda: True,
    ) -> None:
        self._numbers = numbers
        self._alerts = alerts
        self._region = phone_region
        self._allow = allow
        self._allow_unknown = allow_unknown

    async def answer(self, sender: str, text: str) -> tuple[str, str] | None:
        """(number to answer, text of the answer), or None: send nothing."""
        try:
            e164 = normalise_phone(sender, self._region())
        except ProtocolError:
            return None
        if not self._allow(e164):
            return None
        member = await self._numbers.member(e164)
        if member is None:
            if not self._allow_unknown():
                return None
            return e164, Translator("en").gettext(NOT_RECOGNISED)
        t = Translator(member.lang)
        command = parse_command(text[:MAX_SMS_CHARS])
        if command.kind != "check":
            return e164, " ".join((t.gettext(HOW_TO), t.gettext(HISTORY)))
        kind = indicator_kind(command.value)
        try:
            found = await self._alerts.check(kind, command.value)
        except UsageError:
            return e164, " ".join((t.gettext(NOT_VALID), t.gettext(HISTORY)))
        what = command.value[:60]
        if found["matches"]:
            line = t.gettext(MATCHES) % {
                "what": what,
                "matches": found["matches"],
                "organisations": found["organisations"],
                "danger": t.danger(found["max_danger"]),
            }
        else:
            line = t.gettext(NO_MATCH) % {"what": what}
        return e164, " ".join((line, t.gettext(HISTORY)))
