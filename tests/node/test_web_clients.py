"""Who a per-client limit counts (node/web/clients.py), and how the trusted proxies get
there: ``init --trusted-proxy``, node.json, and a running node's web port."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from node import config as config_mod
from node.app import Node
from node.errors import NotANode, UsageError
from node.ops.initialise import init_node
from node.web.clients import ClientPolicy, parse_address
from node.web.ratelimit import SIGNUP_ATTEMPTS_PER_CLIENT
from tests.node.test_web_support import PASSPHRASE, csrf_of, work_of

PROXY = "127.0.0.1"
PROXIES = config_mod.parse_proxies([PROXY, "10.1.0.0/16", "::1"], "test")


def who(remote: str | None, xff: list[str] | None = None, fwd: list[str] | None = None) -> Any:
    return ClientPolicy(PROXIES).client(remote, xff or [], fwd or []).budget


def test_a_connection_not_from_a_proxy_is_its_own_client_whatever_it_claims() -> None:
    assert who("203.0.113.9") == "203.0.113.9"
    assert who("203.0.113.9", ["198.51.100.1"], ["for=198.51.100.1"]) == "203.0.113.9"
    assert ClientPolicy().client("127.0.0.1", ["198.51.100.1"], []).budget == "127.0.0.1"


def test_a_proxy_names_its_client_by_the_rightmost_address_it_did_not_add_itself() -> None:
    assert who("127.0.0.1", ["198.51.100.1"]) == "198.51.100.1"
    # What the client sent comes first; the proxy appends the address it saw.
    assert who("127.0.0.1", ["6.6.6.6, 198.51.100.1"]) == "198.51.100.1"
    assert who("127.0.0.1", ["6.6.6.6", "198.51.100.1"]) == "198.51.100.1"  # two lines
    # A chain of trusted proxies is skipped.
    assert who("127.0.0.1", ["198.51.100.1, 10.1.2.3"]) == "198.51.100.1"
    assert who("127.0.0.1", ["198.51.100.1:4711"]) == "198.51.100.1"
    assert who("127.0.0.1", ["[2001:db8:1:2:3::9]:443"]) == "2001:db8:1:2::/64"
    assert who("127.0.0.1", ["::ffff:198.51.100.1"]) == "198.51.100.1"
    assert who("::1", [], ['for="[2001:db8:1:2::7]:80";proto=https']) == "2001:db8:1:2::/64"
    assert who("127.0.0.1", [], ["for=6.6.6.6, for=198.51.100.2;by=10.1.0.1"]) == "198.51.100.2"
    assert who("127.0.0.1", ["198.51.100.3"], ["For=198.51.100.3"]) == "198.51.100.3"


def test_ipv6_clients_count_by_their_64() -> None:
    assert who("2001:db8:aa:bb:1::1") == who("2001:db8:aa:bb:ffff::2") == "2001:db8:aa:bb::/64"
    assert who("2001:db8:aa:bc::1") != who("2001:db8:aa:bb::1")


@pytest.mark.parametrize(
    ("xff", "fwd"),
    [
        ([], []),  # the proxy passed no address on (an onion service behind it)
        ([""], []),
        (["unknown"], []),
        (["10.1.0.7"], []),  # only proxies
        (["198.51.100.1, not-an-address"], []),
        ([], ["for=unknown"]),
        ([], ["for=_hidden"]),
        ([], ["proto=https"]),
        ([], ["for=198.51.100.1;;;=x"]),
        (["198.51.100.1"], ["for=198.51.100.2"]),  # the two disagree: one came from the client
        ([", ".join(["198.51.100.1"] * 40)], []),  # padded past any real chain
    ],
)
def test_a_proxied_request_without_a_usable_address_is_anonymous(
    xff: list[str], fwd: list[str]
) -> None:
    client = ClientPolicy(PROXIES).client("127.0.0.1", xff, fwd)
    assert client.anonymous and client.key("login") is None
    # The few limits that must hold anyway share one key among anonymous clients.
    onion = ClientPolicy(PROXIES).client("10.1.0.9", [], [])
    assert client.shared_key("unlock") == onion.shared_key("unlock")
    named = ClientPolicy().client("198.51.100.1", [], [])
    assert client.shared_key("unlock") != named.shared_key("unlock")


def test_keys_are_keyed_hashes_by_purpose() -> None:
    client = ClientPolicy().client("198.51.100.1", [], [])
    login, signup = client.key("login"), client.key("signup")
    assert login is not None and signup is not None and login != signup
    assert b"198.51.100.1" not in login and len(login) == 16


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("1.2.3.4", "1.2.3.4"),
        (" 1.2.3.4:80 ", "1.2.3.4"),
        ('"[::1]:80"', "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("[::1", None),
        ("1.2.3", None),
        ("", None),
        ("localhost", None),
    ],
)
def test_parse_address(text: str, parsed: str | None) -> None:
    address = parse_address(text)
    assert (None if address is None else str(address)) == parsed


def test_trusted_proxies_are_checked_where_they_are_given(short_tmp: Path) -> None:
    assert [str(n) for n in config_mod.parse_proxies(["127.0.0.1, 10.0.0.0/8"], "x")] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
    ]
    for bad in (["localhost"], ["10.0.0.1/33"], ["1.2.3.4"] * 17):
        with pytest.raises(UsageError):
            config_mod.parse_proxies(bad, "--trusted-proxy")
    data = short_tmp / "bad"
    data.mkdir()
    (data / "node.json").write_text(
        json.dumps(
            {
                "name": "x",
                "web": "127.0.0.1:0",
                "fed": "127.0.0.1:0",
                "public_url": "https://127.0.0.1:1",
                "region": "",
                "key": "00",
                "trusted_proxies": ["the-proxy"],
            }
        )
    )
    with pytest.raises(NotANode, match="trusted_proxies: 'the-proxy' is not an IP address"):
        config_mod.load(data)


async def _signup_statuses(url: str, forwarded_for: str, count: int) -> list[int]:
    """Sign-ups with a made-up invite code, as a browser behind the proxy sends them."""
    statuses = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for i in range(count):
            async with http.get(url + "/signup") as resp:
                page = await resp.text()
            form = {
                "csrf": csrf_of(page),
                **work_of(page),
                "invite": "AAAA-BBBB-CCCC-DDDD",
                "nickname": f"nick{i}",
                "passphrase": PASSPHRASE,
                "passphrase2": PASSPHRASE,
            }
            headers = {"X-Forwarded-For": forwarded_for}
            async with http.post(
                url + "/signup", data=form, headers=headers, allow_redirects=False
            ) as resp:
                statuses.append(resp.status)
    return statuses


async def test_init_stores_the_trusted_proxies_and_a_running_node_believes_them(
    short_tmp: Path,
) -> None:
    data = short_tmp / "proxied"
    common: dict[str, Any] = {
        "name": "P", "web": "127.0.0.1:0", "fed": "127.0.0.1:0", "public_url": None,
        "region": "GB", "passphrase": None,
    }  # fmt: skip
    with pytest.raises(UsageError, match="--trusted-proxy: 'nginx' is not an IP address"):
        await init_node(data, **common, trusted_proxies=["nginx"])
    assert not data.exists()
    await init_node(data, **common, trusted_proxies=[PROXY, "10.0.0.0/8"])
    config = json.loads((data / "node.json").read_text())
    assert config["trusted_proxies"] == [PROXY, "10.0.0.0/8"]
    # A node.json from before the key had none: nobody's header is believed.
    older = {k: v for k, v in config.items() if k != "trusted_proxies"}
    assert config_mod.Config(**older).trusted_proxies == []
    # The running node's web port reads X-Forwarded-For from the proxy in node.json:
    # each forwarded address has its own sign-up budget, not one shared by all.
    node = Node(data, config_mod.load(data))
    await node.start()
    try:
        node.unlocked().settings.set("login_work_bits", 8)
        url = node.web_url.rstrip("/")
        over = SIGNUP_ATTEMPTS_PER_CLIENT + 1
        assert await _signup_statuses(url, "198.51.100.1", over) == [400] * (over - 1) + [429]
        assert await _signup_statuses(url, "198.51.100.2", 1) == [400]
    finally:
        await node.stop()
