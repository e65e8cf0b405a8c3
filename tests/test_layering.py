"""Imports go one way: protocol <- federation <- node.

protocol/ is pure: it may import only the allow-listed standard-library modules, the
three libraries it is built on (msgpack, nacl, phonenumbers) and itself, so it can
never reach a socket, a clock, randomness, the filesystem or a database. federation/
must never import node/; it reaches storage through Protocols that node/ implements.

Files are found when the test runs, so new modules are checked as they appear. The
checker is plain ``ast``: nothing under test is imported.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Pure standard-library modules protocol/ may use. Anything else (os, time, random,
# socket, asyncio, sqlite3, io, logging, ...) is refused unless added here on purpose.
PROTOCOL_STDLIB = frozenset(
    {
        "__future__",
        "abc",
        "base64",
        "binascii",
        "bisect",
        "collections",
        "collections.abc",
        "dataclasses",
        "datetime",
        "enum",
        "functools",
        "hashlib",
        "heapq",
        "hmac",
        "ipaddress",
        "itertools",
        "math",
        "operator",
        "re",
        "string",
        "struct",
        "types",
        "typing",
        "unicodedata",
        "urllib.parse",
    }
)
PROTOCOL_LIBRARIES = frozenset({"msgpack", "nacl", "phonenumbers"})

# Named so that a future edit to the allow-list cannot quietly let these in.
NEVER_IN_PROTOCOL = frozenset(
    {
        "aiohttp",
        "aiosqlite",
        "asyncio",
        "federation",
        "io",
        "node",
        "os",
        "pathlib",
        "random",
        "secrets",
        "selectors",
        "shutil",
        "socket",
        "sqlite3",
        "ssl",
        "subprocess",
        "tempfile",
        "threading",
        "time",
        "zeroconf",
    }
)


def top(module: str) -> str:
    return module.split(".", 1)[0]


def imported_modules(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import in ``source``.

    ``module`` is the dotted name of the file being read; relative imports are resolved
    against it. ``__import__("x")`` and ``importlib.import_module("x")`` with a literal
    name count as imports too.
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                up = node.level - 1
                if up > len(parts):
                    yield node.lineno, "<beyond the top-level package>"
                    continue
                target = ".".join([*parts[: len(parts) - up], *filter(None, [node.module])])
                if not target:
                    # "from .. import x" at the top: each name is a top-level module.
                    for alias in node.names:
                        yield node.lineno, alias.name
                    continue
            else:
                target = node.module or ""
            yield node.lineno, target
            # "from protocol import x" may name a submodule; "from . import x" too.
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{target}.{alias.name}"
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name in {"__import__", "importlib.import_module", "import_module"} and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    yield node.lineno, arg.value
                else:
                    yield node.lineno, "<dynamic import>"


def protocol_allows(name: str) -> bool:
    if top(name) in NEVER_IN_PROTOCOL:
        return False
    if top(name) in PROTOCOL_LIBRARIES or top(name) == "protocol":
        return True
    # "from collections.abc import Mapping" yields collections.abc.Mapping as well.
    return any(name == m or name.startswith(m + ".") for m in PROTOCOL_STDLIB)


def federation_allows(name: str) -> bool:
    return top(name) != "node"


def violations(
    source: str, module: str, allows: Callable[[str], bool], is_package: bool = False
) -> list[str]:
    return [
        f"line {line}: imports {name}"
        for line, name in imported_modules(source, module, is_package)
        if not allows(name)
    ]


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def check_file(path: Path, allows: Callable[[str], bool]) -> list[str]:
    module, is_package = module_name(path)
    return violations(path.read_text(encoding="utf-8"), module, allows, is_package)


def ids(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --- the rules, applied to the tree ------------------------------------------------


def test_protocol_exists_and_is_checked() -> None:
    assert len(python_files("protocol")) >= 7


@pytest.mark.parametrize("path", python_files("protocol"), ids=ids)
def test_protocol_imports_only_pure_modules(path: Path) -> None:
    assert check_file(path, protocol_allows) == []


@pytest.mark.parametrize("path", python_files("federation"), ids=ids)
def test_federation_never_imports_node(path: Path) -> None:
    assert check_file(path, federation_allows) == []


# --- the checker can fail ----------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "import socket",
        "import os.path",
        "import time",
        "from time import monotonic",
        "import random",
        "import asyncio",
        "import aiohttp.web",
        "import sqlite3",
        "from io import BytesIO",
        "from zeroconf import Zeroconf",
        "import federation",
        "from node.store import Store",
        "from .. import node",
        "from ..federation import peers",
        "import logging",
        "def f():\n    import socket\n",
        "if False:\n    import os\n",
        "__import__('socket')",
        "importlib.import_module('time')",
        "__import__(name)",
    ],
)
def test_checker_refuses_impure_imports_in_protocol(source: str) -> None:
    assert violations(source, "protocol.example", protocol_allows) != []


@pytest.mark.parametrize(
    "source",
    [
        "from __future__ import annotations",
        "import hashlib, hmac, struct",
        "from collections.abc import Mapping",
        "import nacl.signing",
        "import nacl.pwhash.argon2id as argon2id",
        "import msgpack",
        "import phonenumbers",
        "from . import encoding",
        "from .errors import InvalidField",
        "from protocol.limits import Limits",
        "from typing import Any",
    ],
)
def test_checker_accepts_pure_imports_in_protocol(source: str) -> None:
    assert violations(source, "protocol.example", protocol_allows) == []


def test_relative_imports_are_resolved_from_the_package() -> None:
    found = {name for _, name in imported_modules("from . import x", "protocol", True)}
    assert "protocol.x" in found
    found = {name for _, name in imported_modules("from .. import node", "protocol.a", False)}
    assert "node" in found
    found = {name for _, name in imported_modules("from ...x import y", "protocol.a", False)}
    assert found == {"<beyond the top-level package>"}


@pytest.mark.parametrize(
    "source",
    [
        "import node",
        "import node.store",
        "from node import app",
        "from node.store import Store",
        "from ..node import app",
        "from .. import node",
    ],
)
def test_checker_refuses_node_in_federation(source: str) -> None:
    assert violations(source, "federation.sync", federation_allows) != []


@pytest.mark.parametrize(
    "source",
    [
        "import asyncio",
        "import aiohttp",
        "from protocol.alert import verify_alert",
        "from . import peers",
        "from .transport import Transport",
        "import nodes_helper",  # a name that merely starts with "node"
    ],
)
def test_checker_accepts_federation_imports(source: str) -> None:
    assert violations(source, "federation.sync", federation_allows) == []
