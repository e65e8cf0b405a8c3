"""The error a notification raises: one sentence and a stable code.

    NotifyError(NodeError)         a message could not be sent, or a channel is not usable
        .code                      stable, machine-readable: see CODES

The message never quotes a URL, an address or a message's text.
"""

from __future__ import annotations

from ..errors import NodeError

# Stable codes (docs/notifications.md lists them); add, never rename.
CODES = frozenset(
    {
        "no_channel",  # no channel of that name
        "bad_url",  # apprise does not understand the channel's URL
        "bad_address",  # the recipient cannot be joined to this kind of URL
        "unsupported",  # the channel's kind takes no recipient this node knows how to add
        "timeout",  # the service did not answer in time
        "refused",  # the service answered with a failure
        "unavailable",  # apprise is not installed, or the node is stopping
    }
)


class NotifyError(NodeError):
    """A message could not be sent. ``code`` is one of ``CODES``."""

    status = 502

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        assert code in CODES, code
        self.code = code
