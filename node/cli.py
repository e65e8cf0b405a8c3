"""The ``alertnode`` console entry point (``python -m node.cli`` works too).

Rule: nothing lives here but the entry point; every command is a row of the table in
node/commands/, which generates the parser (node/commands/cli.py).
"""

from __future__ import annotations

from .commands.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
