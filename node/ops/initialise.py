"""``alertnode init`` and ``alertnode card``: making a node and showing its card.

Rule: ``init`` validates every flag before it creates anything, refuses a directory
that already holds a node, and leaves either a complete node or nothing it made.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import time
import urllib.parse
from pathlib import Path
from typing import Any

from .. import config as config_mod
from ..config import Config
from ..errors import AlreadyInitialised, UsageError
from ..keys import keystore, tls
from ..settings import region_defaults
from ..store import Store

INVITE_DAYS = 14
_REGION_RE = re.compile(r"^([A-Z]{2}(-[A-Z0-9]{1,6}){0,2})?$")


def _validate(
    name: str, web: str, fed: str, public_url: str | None, region: str, allow_http: bool
) -> tuple[str, str]:
    name = name.strip()
    if not 1 <= len(name) <= 80 or any(not ch.isprintable() for ch in name):
        raise UsageError("--name must be 1 to 80 printable characters")
    config_mod.parse_hostport(web, "--web")
    config_mod.parse_hostport(fed, "--fed")
    url = public_url or f"{'http' if allow_http else 'https'}://{fed}"
    if not re.match(r"^(https|http)://[^\s/]+(/[^\s]*)?$", url):
        raise UsageError("--public-url must be a URL like https://node.example.org:8443")
    if not _REGION_RE.match(region.upper()):
        raise UsageError("--region must be a code like GB, GB-LND or FR-75")
    return name, url


async def init_node(
    data: Path,
    *,
    name: str,
    web: str,
    fed: str,
    public_url: str | None,
    region: str,
    passphrase: str | None,
    allow_http: bool = False,
    socks_proxy: str = "",
    trusted_proxies: list[str] | None = None,
) -> dict[str, Any]:
    """Create a node in ``data``. Raises UsageError or AlreadyInitialised."""
    name, url = _validate(name, web, fed, public_url, region, allow_http)
    if socks_proxy and not re.match(r"^socks5h?://[^\s/@]+:\d{1,5}/?$", socks_proxy):
        raise UsageError("--socks-proxy must be a URL like socks5://127.0.0.1:9050")
    proxies = [
        str(n.network_address if n.num_addresses == 1 else n)
        for n in config_mod.parse_proxies(trusted_proxies or [], "--trusted-proxy")
    ]
    if passphrase is not None:
        keystore.check_passphrase_strength(passphrase)
    if (data / config_mod.CONFIG_FILE).exists() or (data / keystore.KEYSTORE_FILE).exists():
        raise AlreadyInitialised(f"{data} already holds a node")
    created_dir = not data.exists()
    if not created_dir and any(data.iterdir()):
        raise UsageError(f"{data} is not empty; give an empty or new directory")
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(data, 0o700)
    try:
        unlocked = keystore.create(data, passphrase)
        tls.create(data, unlocked.data_key, datetime.datetime.now(datetime.UTC))
        cfg = Config(
            name=name,
            web=web,
            fed=fed,
            public_url=url,
            region="",  # sealed in the store's settings below, not in node.json
            key=bytes(unlocked.signing_key.verify_key).hex(),
            allow_http=allow_http,
            socks_proxy=socks_proxy,
            trusted_proxies=proxies,
        )
        config_mod.save(data, cfg)
        store = await Store.open(data, unlocked.data_key)
        try:
            await store.settings.put_missing(region_defaults(region.upper()))
            now = int(time.time())
            invite = await store.members.create_invite("admin", now + INVITE_DAYS * 86400, now)
        finally:
            await store.close()
    except BaseException:
        if created_dir:
            shutil.rmtree(data, ignore_errors=True)
        else:
            for child in data.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise
    return {
        "data": str(data),
        "key": cfg.key,
        # With port 0 the port is chosen at start, so the card comes from the running node.
        "card": None
        if urllib.parse.urlsplit(url).port == 0
        else card_text(data, cfg, unlocked.signing_key),
        "invite": invite,
        "web": web,
        "fed": fed,
    }


def card_text(data: Path, cfg: Config, signing_key: Any) -> str:
    """This node's card as one line of text (signed now, valid for a year)."""
    from ..network.cards import make_card_text

    # The pins go in even for a plain-http (onion or loopback) URL: a node always has
    # a TLS key, and an https URL added later is then already pinned.
    return make_card_text(cfg.name, cfg.public_url, signing_key, tls.pins(data), int(time.time()))


async def read_card(data: Path) -> dict[str, Any]:
    """The card of the node in ``data``: from the running node, else offline."""
    from ..commands import client as control
    from ..errors import NotRunning

    try:
        return await control.call(data, "card")
    except NotRunning:
        cfg = config_mod.load(data)
        if keystore.mode(data) != "keyfile":
            raise UsageError(
                "the node is not running and its key is protected by a passphrase; "
                "start it, then run 'alertnode card'"
            ) from None
        unlocked = keystore.unlock(data, None)
        return {"card": card_text(data, cfg, unlocked.signing_key), "key": cfg.key}
