"""Counting a store's calls to its database thread (issue 17: each is a thread switch
and a wake-up of the event loop, so tests pin how many a step makes)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from node.store.db import Database


def count_calls(db: Database) -> Counter[str]:
    """Count every call ``db`` makes on its database thread or its reader's from now on
    (``"all"``; ``"reader"`` the reader's alone): each is a hop across threads."""
    calls: Counter[str] = Counter()
    for conn, name in ((db.conn, "writer"), (db.reader, "reader")):
        if conn is not None:
            _count(conn, name, calls)
    return calls


def _count(conn: Any, name: str, calls: Counter[str]) -> None:
    execute = conn._execute

    async def counted(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        calls["all"] += 1
        calls[name] += 1
        return await execute(fn, *args, **kwargs)

    conn._execute = counted
