"""Asking before a destructive action: a page that says what will happen, then a
second POST that carries ``confirm=yes``.

Rule: a destructive handler (delete a report, revoke a member, retract an alert,
remove a peer) changes nothing unless its form carries ``confirm=yes``; without it,
it answers with the confirmation page, whose form posts the same fields to the same
path with ``confirm=yes`` and whose "Cancel" link goes back. No JavaScript is
needed. After the action the handler redirects with a notice (``redirect_done``) that
says what was done.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .context import render

CONFIRM_FIELD = "confirm"
# Fields never carried into the confirmation form: the page adds its own.
_NOT_CARRIED = frozenset({"csrf", CONFIRM_FIELD})


def confirmed(data: Mapping[str, Any]) -> bool:
    """Whether the form said yes on the confirmation page."""
    return data.get(CONFIRM_FIELD) == "yes"


def ask(
    request: web.Request,
    data: Mapping[str, Any],
    *,
    question: str,
    consequence: str,
    button: str,
    back: str,
) -> web.Response:
    """The confirmation page for the POST in ``request`` whose form was ``data``:
    ``question`` as its heading, ``consequence`` (what will happen, whether it can be
    undone), a ``button`` that does it and a link ``back`` that does not."""
    fields = [
        (name, value)
        for name, value in data.items()
        if name not in _NOT_CARRIED and isinstance(value, str)
    ]
    return render(
        request,
        "confirm.html",
        question=question,
        consequence=consequence,
        button=button,
        back=back,
        action=request.path,
        fields=fields,
    )
