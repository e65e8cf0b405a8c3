"""The node's configuration file, readable while the node is locked.

Rule: ``node.json`` holds only what is needed before unlocking and is not secret:
the node's name, listen addresses, public URL and public key. Everything else lives
in the encrypted store, the node's region included (it says where members work).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import NotANode, UsageError
from .files import write_private

CONFIG_FILE = "node.json"
DEFAULT_WEB = "127.0.0.1:8080"
DEFAULT_FED = "127.0.0.1:8443"
_HOSTPORT_RE = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")


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


def parse_hostport(text: str, what: str) -> tuple[str, int]:
    """Split HOST:PORT. Raises UsageError."""
    match = _HOSTPORT_RE.match(text.strip())
    if not match or not 0 <= int(match.group(2)) <= 65535:
        raise UsageError(f"{what} must be HOST:PORT, like 127.0.0.1:8080")
    return match.group(1).strip("[]"), int(match.group(2))


def data_dir(arg: str | None) -> Path:
    """The data directory from --data, else ALERTNODE_DATA, else ./data."""
    return Path(arg or os.environ.get("ALERTNODE_DATA") or "data").absolute()


def load(data: Path) -> Config:
    """Read the config. Raises NotANode."""
    try:
        raw = json.loads((data / CONFIG_FILE).read_text(encoding="utf-8"))
        return Config(**raw)
    except FileNotFoundError:
        raise NotANode(f"{data} is not an alertnode data directory; run 'alertnode init'") from None
    except (ValueError, TypeError):
        raise NotANode(f"{data / CONFIG_FILE} is damaged") from None


def save(data: Path, config: Config) -> None:
    write_private(data / CONFIG_FILE, json.dumps(asdict(config), indent=2).encode())
