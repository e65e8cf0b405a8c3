"""Every command row the running node answers on its control socket.

Rule: this module and the row modules it reads load no node machinery (store, keys,
TLS, zeroconf, the aiohttp server): the CLI reads them for every command, so a
command that only talks to the socket starts fast. Handlers import what they use.
"""

from __future__ import annotations

from . import (
    alerts,
    channels,
    ops,
    organisation,
    pairing,
    partners,
    peers,
    receipts,
    settings,
    translations,
)
from .table import Command

# CLI-only rows among them have no handler and no route.
ROWS: tuple[Command, ...] = (
    *alerts.COMMANDS,
    *peers.COMMANDS,
    *pairing.COMMANDS,
    *ops.COMMANDS,
    *receipts.COMMANDS,
    *channels.COMMANDS,
    *translations.COMMANDS,
    *partners.COMMANDS,
    *settings.COMMANDS,
    *organisation.COMMANDS,
)
