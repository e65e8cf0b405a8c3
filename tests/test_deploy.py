"""deploy/: the shipped files say what the admin guide says they say, and Tor accepts
its configuration."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from node import config as config_mod
from node.app import open_file_budget

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
ROOT = DEPLOY.parent


def _directives(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_systemd_unit_is_hardened_and_starts_locked() -> None:
    unit = _directives(DEPLOY / "systemd" / "alertnode.service")
    expected = {
        "User": "alertnode",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "LimitCORE": "0",
        "UMask": "0077",
    }
    for key, value in expected.items():
        assert unit.get(key) == [value], key
    assert "/var/lib/alertnode" in unit["ReadWritePaths"][0].split()
    assert unit["MemoryMax"][0].endswith(("M", "G"))
    (start,) = unit["ExecStart"]
    assert " run --data /var/lib/alertnode" in start
    # Started locked: no passphrase or key file on the command line.
    assert "passphrase" not in start
    sysusers = (DEPLOY / "systemd" / "alertnode.sysusers").read_text()
    assert "u alertnode" in sysusers


def test_open_file_limits_cover_the_connection_caps() -> None:
    """The unit's and the containers' open-file limits hold both ports' connection
    caps and a hundred peers' connections (node.app.open_file_budget)."""
    (limit,) = _directives(DEPLOY / "systemd" / "alertnode.service")["LimitNOFILE"]
    assert int(limit) >= open_file_budget(peers=100)
    compose = yaml.safe_load((DEPLOY / "container" / "compose.yaml").read_text())
    for service in compose["services"].values():
        assert service["ulimits"]["nofile"]["soft"] >= open_file_budget(peers=100)
    guide = (ROOT / "docs" / "admin-guide.md").read_text()
    assert f"{open_file_budget(peers=0)} open files plus 4 per peer" in guide


def test_torrc_serves_the_default_federation_port() -> None:
    torrc = (DEPLOY / "tor" / "torrc").read_text()
    fed = config_mod.DEFAULT_FED
    assert f"HiddenServicePort {fed.rsplit(':', 1)[1]} {fed}" in torrc
    assert "SocksPort 127.0.0.1:9050" in torrc


def test_tor_accepts_the_shipped_configuration() -> None:
    tor = shutil.which("tor")
    if tor is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tor is not installed (.ci/run installs Debian's tor)")
        pytest.skip("tor is not installed (apt-get install tor)")
    result = subprocess.run(
        [tor, "--verify-config", "-f", str(DEPLOY / "tor" / "torrc")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration was valid" in result.stdout


def test_compose_file_describes_three_hardened_nodes() -> None:
    text = (DEPLOY / "container" / "compose.yaml").read_text()
    doc = yaml.safe_load(text)
    services = doc["services"]
    assert sorted(services) == ["a", "b", "c"]
    for service in services.values():
        assert service["cap_drop"] == ["ALL"] and service["read_only"] is True
        assert all(p.startswith("127.0.0.1:") for p in service["ports"])


def test_container_file_copies_what_exists() -> None:
    lines = (DEPLOY / "container" / "Containerfile").read_text().splitlines()
    for line in lines:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert "USER alertnode" in lines


def _uncommented(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if not line.strip().startswith("#")]


def test_reverse_proxies_keep_no_access_log_and_pass_only_the_visitors_address() -> None:
    nginx = _uncommented((DEPLOY / "proxy" / "nginx.conf").read_text())
    assert nginx.count("access_log off;") == 2
    assert "proxy_pass http://127.0.0.1:8080;" in nginx
    assert any(d.startswith("ssl_certificate ") for d in nginx)
    # The visitor's address replaces whatever the visitor sent (never appended to it:
    # $proxy_add_x_forwarded_for), and no other forwarding header reaches the node.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
    assert 'proxy_set_header Forwarded "";' in nginx
    assert 'proxy_set_header X-Real-IP "";' in nginx
    assert not any("proxy_add_x_forwarded_for" in d for d in nginx)
    caddy = _uncommented((DEPLOY / "proxy" / "Caddyfile").read_text())
    assert not any(d.startswith("log") for d in caddy)
    assert "header_up X-Forwarded-For {remote_host}" in caddy
    assert "header_up -Forwarded" in caddy and "header_up -X-Real-IP" in caddy
    assert config_mod.DEFAULT_WEB == "127.0.0.1:8080"


def test_the_web_onion_goes_through_the_proxy_listener_that_passes_no_address() -> None:
    torrc = (DEPLOY / "tor" / "torrc").read_text()
    assert "#HiddenServicePort 80 127.0.0.1:8081" in torrc
    nginx = (DEPLOY / "proxy" / "nginx.conf").read_text()
    onion = nginx[nginx.index("#    listen 127.0.0.1:8081;") :]
    assert '#        proxy_set_header X-Forwarded-For "";' in onion
    assert '#        proxy_set_header Forwarded "";' in onion
    caddy = (DEPLOY / "proxy" / "Caddyfile").read_text()
    onion = caddy[caddy.index("#http://127.0.0.1:8081") :]
    assert "header_up -X-Forwarded-For" in onion and "header_up -Forwarded" in onion
