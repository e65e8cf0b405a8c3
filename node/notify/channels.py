"""Channels: apprise URLs without a recipient, and how a recipient is joined to each.

Rule: how a member's address becomes part of a channel's URL is decided by one table
(``JOINS``, by the URL's scheme) and nowhere else; a scheme not in the table is
refused when the channel is added, so no message ever goes to a URL this node cannot
address. Apprise runs in a worker thread with a deadline (``deliver``), its own log
is silenced (it would print URLs and recipients), and its errors are turned into
``NotifyError`` codes without their text.
"""

from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .errors import NotifyError

MAX_URL_CHARS = 2000
MAX_ADDRESS_CHARS = 320
MAX_NAME_CHARS = 40

# Apprise logs the URLs it parses and the targets it sends to, and urllib3 (which its
# services send through) logs each request line, where a topic, a chat id or a token
# may sit; none of that may reach the node's log (docs/notifications.md).
logging.getLogger("apprise").setLevel(logging.CRITICAL + 1)
logging.getLogger("apprise").propagate = False
logging.getLogger("urllib3").setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class Join:
    """How a recipient joins a URL: as a query parameter, or as a last path segment."""

    how: str  # "query" | "path"
    param: str = ""  # the query parameter ("query")
    what: str = ""  # what the address is, in words (docs and errors)


# By URL scheme (apprise's "schema"); the docs' table is made from this one.
JOINS: dict[str, Join] = {
    "mailto": Join("query", "to", "an e-mail address"),
    "mailtos": Join("query", "to", "an e-mail address"),
    "ntfy": Join("path", what="a topic"),
    "ntfys": Join("path", what="a topic"),
    "matrix": Join("path", what="a room (#room:server) or user (@user:server)"),
    "matrixs": Join("path", what="a room (#room:server) or user (@user:server)"),
    "signal": Join("path", what="a phone number (+447700900123) or group"),
    "signals": Join("path", what="a phone number (+447700900123) or group"),
    "tgram": Join("path", what="a Telegram chat id"),
    "httpsms": Join("path", what="a phone number (an Android phone as SMS gateway)"),
    "smseagle": Join("path", what="a phone number"),
    "smseagles": Join("path", what="a phone number"),
    "twilio": Join("path", what="a phone number"),
    "vonage": Join("path", what="a phone number"),
    "json": Join("query", ":to", "any text, sent as the payload's 'to' field"),
    "jsons": Join("query", ":to", "any text, sent as the payload's 'to' field"),
}


def kind_of(url: str) -> str:
    """The scheme of a channel URL, lower-case. Raises NotifyError(bad_url/unsupported)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        raise NotifyError("bad_url", "a channel URL is an apprise URL of at most 2000 characters")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not scheme:
        raise NotifyError("bad_url", "a channel URL starts with its service, like mailtos://")
    if scheme not in JOINS:
        raise NotifyError(
            "unsupported",
            f"this node cannot address members on {scheme}:// channels; "
            f"supported: {', '.join(sorted(JOINS))}",
        )
    return scheme


def check_address(address: str) -> str:
    """``address`` stripped. Raises NotifyError(bad_address)."""
    if not isinstance(address, str):
        raise NotifyError("bad_address", "an address is text")
    address = address.strip()
    if not address or len(address) > MAX_ADDRESS_CHARS:
        raise NotifyError("bad_address", "an address has 1 to 320 characters")
    if any(not ch.isprintable() or ch.isspace() for ch in address):
        raise NotifyError("bad_address", "an address has no spaces or invisible characters")
    return address


def join_recipient(url: str, address: str) -> str:
    """The channel's ``url`` with ``address`` as its one recipient (see ``JOINS``).

    Raises NotifyError(bad_url, unsupported, bad_address)."""
    join = JOINS[kind_of(url)]
    address = check_address(address)
    parts = urlsplit(url)
    if join.how == "query":
        # The admin's URL may name other recipients: never send to them as well.
        query = [(k, v) for k, v in parse_qsl(parts.query) if k.lower() != join.param.lower()]
        query.append((join.param, address))
        return urlunsplit(parts._replace(query=urlencode(query)))
    path = parts.path.rstrip("/") + "/" + quote(address, safe="@+:")
    return urlunsplit(parts._replace(path=path))


@functools.cache
def load_apprise() -> Any:
    """Import apprise once (on the event loop's thread: ``catch_warnings`` is not
    thread-safe). Its plugins import modules Python deprecates (imghdr); that is
    apprise's affair, not a reason to fail. Raises NotifyError(unavailable)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import apprise
        except ImportError:  # pragma: no cover - a runtime dependency
            raise NotifyError("unavailable", "apprise is not installed") from None
        # Plugins load when the first URL is parsed: parse one now, under this filter.
        apprise.Apprise().add("json://localhost")
    return apprise


def deliver(url: str, address: str, title: str, body: str) -> None:
    """Send one message (blocking: run it in a thread). Raises NotifyError."""
    apprise = load_apprise()
    target = join_recipient(url, address)
    sender = apprise.Apprise()
    if not sender.add(target):
        raise NotifyError("bad_url", "apprise does not understand this channel's URL")
    try:
        ok = bool(sender.notify(body=body, title=title))
    except Exception:  # apprise plugins raise anything; their text may quote the URL
        ok = False
    if not ok:
        raise NotifyError("refused", "the service did not accept the message")
