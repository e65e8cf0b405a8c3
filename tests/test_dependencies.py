"""The locked dependency set honours the minimum safe versions pinned in pyproject."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def locked() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", line.strip())
        if match:
            pins[canonicalize_name(match.group(1))] = Version(match.group(2))
    return pins


def test_every_runtime_dependency_is_locked_at_a_safe_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = locked()
    for text in project["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock"
        assert requirement.specifier.contains(pins[name]), f"{name} {pins[name]} < {requirement}"


def test_security_floors_are_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {
        canonicalize_name(Requirement(t).name): Requirement(t) for t in project["dependencies"]
    }
    # Each library's latest security release as of 2026-11 (aiohttp: parser DoS and
    # request smuggling, 3.14.2-3.14.3; cryptography: CVE-2026-69247; PyNaCl: libsodium).
    for name, version in (
        ("aiohttp", "3.14.3"),
        ("jinja2", "3.1.6"),
        ("cryptography", "50.0.0"),
        ("msgpack", "1.0.8"),
        ("pynacl", "1.6.2"),
    ):
        floor = [Version(s.version) for s in floors[name].specifier if s.operator == ">="]
        assert floor and floor[0] >= Version(version), f"{name} floor is below {version}"


def test_every_locked_file_is_pinned_by_hash() -> None:
    """Each pin carries sha256 hashes, so pip install --require-hashes can use the lock."""
    text = (ROOT / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 3)[3])
    assert len(entries) == len(locked()) > 0
    for entry in entries:
        name = entry.split("==", 1)[0]
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", entry)
        assert hashes, f"{name} has no hash in requirements.lock"


def test_installs_use_the_hashed_lock() -> None:
    """The container and the admin guide install from the lock with --require-hashes."""
    containerfile = (ROOT / "deploy/container/Containerfile").read_text()
    guide = (ROOT / "docs/admin-guide.md").read_text()
    for text in (containerfile, guide):
        assert "--require-hashes -r requirements.lock" in text
