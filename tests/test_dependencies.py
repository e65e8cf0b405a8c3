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
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)$", line.strip())
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
    # Versions with fixes for known advisories (request smuggling, template sandbox, TLS).
    for name, version in (
        ("aiohttp", "3.12.14"),
        ("jinja2", "3.1.6"),
        ("cryptography", "44.0.1"),
        ("msgpack", "1.0.8"),
    ):
        assert not floors[name].specifier.contains(str(Version(version).release[0]) + ".0.0")
        assert floors[name].specifier.contains(version)
