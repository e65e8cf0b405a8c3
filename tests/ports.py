"""Ports for tests and benchmarks on loopback.

Rule: everything a test or benchmark starts listens on 127.0.0.1 only.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago.

    Another process may take it before the caller binds it; a node started on port 0
    avoids that race where the test can read the bound port back.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
