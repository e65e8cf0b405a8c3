"""The node's configuration file, readable while the node is locked.

Rule: ``node.json`` holds only what is needed before unlocking and is not secret:
the node's name, listen addresses, public URL, public key and the addresses of the
reverse proxies whose forwarded-client headers the web app believes. Everything else
lives in the encrypted store, the node's region included (it says where members work).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import NotANode, UsageError
from .files import write_private

CONFIG_FILE = "node.json"
DEFAULT_WEB = "127.0.0.1:8080"
DEFAULT_FED = "127.0.0.1:8443"
_HOSTPORT_RE = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")
MAX_TRUSTED_PROXIES = 16

ProxyNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Config:
    name: str
    web: str
    fed: str
    public_url: str
    # Always "" in files written now; an earlier alertnode's file may hold the
    # region, which the next unlock moves into the sealed settings.
    region: str
    key: str  # the node's public key, hex
    allow_http: bool = False  # plain HTTP between nodes, loopback only (tests)
    socks_proxy: str = ""  # socks5://HOST:PORT for onion peers (Tor)
    # Addresses or networks (CIDR) of reverse proxies in front of the web app: only
    # their X-Forwarded-For / Forwarded headers name the client (node/web/clients.py).
    trusted_proxies: list[str] = field(default_factory=list)


def parse_hostport(text: str, what: str) -> tuple[str, int]:
    """Split HOST:PORT. Raises UsageError."""
    match = _HOSTPORT_RE.match(text.strip())
    if not match or not 0 <= int(match.group(2)) <= 65535:
        raise UsageError(f"{what} must be HOST:PORT, like 127.0.0.1:8080")
    return match.group(1).strip("[]"), int(match.group(2))


def parse_proxies(items: list[str] | tuple[str, ...], what: str) -> tuple[ProxyNetwork, ...]:
    """The networks of ``items`` (addresses like 127.0.0.1 or networks like
    10.0.0.0/24; commas and spaces also separate). Raises UsageError naming ``what``."""
    if not isinstance(items, list | tuple):
        raise UsageError(f"{what} must be a list of IP addresses")
    words = [w for item in items for w in str(item).replace(",", " ").split()]
    if len(words) > MAX_TRUSTED_PROXIES:
        raise UsageError(f"{what} can name at most {MAX_TRUSTED_PROXIES} addresses")
    networks = []
    for word in words:
        try:
            networks.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            raise UsageError(
                f"{what}: {word[:60]!r} is not an IP address or network like 127.0.0.1"
            ) from None
    return tuple(networks)


def data_dir(arg: str | None) -> Path:
    """The data directory from --data, else ALERTNODE_DATA, else ./data."""
    return Path(arg or os.environ.get("ALERTNODE_DATA") or "data").absolute()


def load(data: Path) -> Config:
    """Read the config. Raises NotANode."""
    try:
        raw = json.loads((data / CONFIG_FILE).read_text(encoding="utf-8"))
        config = Config(**raw)
    except FileNotFoundError:
        raise NotANode(f"{data} is not an alertnode data directory; run 'alertnode init'") from None
    except (ValueError, TypeError):
        raise NotANode(f"{data / CONFIG_FILE} is damaged") from None
    try:
        parse_proxies(config.trusted_proxies, "trusted_proxies")
    except UsageError as exc:
        raise NotANode(f"{data / CONFIG_FILE}: {exc.message}") from None
    return config


def save(data: Path, config: Config) -> None:
    write_private(data / CONFIG_FILE, json.dumps(asdict(config), indent=2).encode())
