"""Red-team tests of the web app's limits: login brute force, nickname enumeration
and bulk checks of phone numbers, against a real in-process node over HTTP."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp
from aiohttp.test_utils import TestClient

from node.keys.slowhash import SlowHashPool
from node.store.members import _DUMMY_HASH, passphrase_matches
from tests.federation.nodes import draft
from tests.node.test_web_support import (  # noqa: F401
    PASSPHRASE,
    Site,
    Visitor,
    csrf_of,
    site_fixture,
    work_of,
)

T = TypeVar("T")


# --- login brute force, nickname enumeration ---------------------------------------------


class CountingPool(SlowHashPool):
    """The node's bounded pool, counting which slow functions ran through it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, bool]] = []

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        stored = args[0] if fn is passphrase_matches else None
        self.calls.append((fn.__name__, bool(stored)))
        return await super().run(fn, *args)


def _page_text(html: str) -> str:
    return re.sub(r'name="(csrf|pow_challenge)" value="[^"]+"|data-csrf="[^"]+"', "", html)


async def test_login_does_not_tell_unknown_nicknames_from_wrong_passphrases(site: Site) -> None:
    await (await site.visitor()).signup("alice")
    counting = CountingPool()
    site.node.hashes.close()
    site.node.hashes = counting
    v = await site.visitor()
    known = await v.login("alice", "wrong passphrase!")
    unknown = await v.login("nobody-here", "wrong passphrase!")
    assert known[0] == unknown[0] == 400
    same_form_known = _page_text(known[1]).replace("alice", "NICK")
    same_form_unknown = _page_text(unknown[1]).replace("nobody-here", "NICK")
    assert same_form_known == same_form_unknown
    # Both paths ran one full Argon2id verification in the pool: against the member's
    # hash, and against a dummy hash of the same cost for the unknown nickname.
    assert counting.calls == [("passphrase_matches", True), ("passphrase_matches", False)]
    real = await site.store.members.pass_hash(1)
    assert real.split("$")[:4] == _DUMMY_HASH.decode().split("$")[:4]  # same m, t, p
    # After five failures both nicknames are locked the same way (429, same text).
    for _ in range(4):
        await v.login("alice", "wrong passphrase!")
        await v.login("nobody-here", "wrong passphrase!")
    locked_known = await v.login("alice", "wrong passphrase!")
    locked_unknown = await v.login("nobody-here", "wrong passphrase!")
    assert locked_known[0] == locked_unknown[0] == 429
    assert _page_text(locked_known[1]).replace("alice", "NICK") == _page_text(
        locked_unknown[1]
    ).replace("nobody-here", "NICK")


async def _client_from(site: Site, address: str) -> Visitor:
    """A visitor whose connections come from another loopback address."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    client: TestClient[Any, Any] = TestClient(site.server, connector=connector)
    await client.start_server()
    site.clients.append(client)
    return Visitor(site, client)


async def test_login_brute_force_is_limited_per_account_and_per_client(site: Site) -> None:
    for nick in ("alice", "bobby", "carol"):
        await (await site.visitor()).signup(nick)
    attacker = await site.visitor()
    # Per account: five wrong guesses, then even the right passphrase waits.
    for i in range(5):
        assert (await attacker.login("alice", f"guess number {i}"))[0] == 400
    assert (await attacker.login("alice", PASSPHRASE))[0] == 429
    # Other accounts are not locked by it.
    bob = await site.visitor()
    assert (await bob.login("bobby"))[0] == 303
    # Per client: spraying one guess over many nicknames hits the client limit, and
    # forged forwarding headers do not make the attacker look like another client.
    site.state.limits.login_client.limit = 12
    statuses = []
    for i in range(12):
        spoof = {"X-Forwarded-For": f"203.0.113.{i}", "X-Real-IP": f"198.51.100.{i}"}
        _, page, _ = await attacker.get("/login")
        async with attacker.client.post(
            "/login",
            data={
                "csrf": csrf_of(page),
                **work_of(page),
                "nickname": f"user{i}",
                "passphrase": "x",
            },
            headers=spoof,
            allow_redirects=False,
        ) as resp:
            statuses.append(resp.status)
    assert statuses[-1] == 429 and 429 in statuses
    assert (await attacker.login("carol"))[0] == 429
    # An honest member on another address still logs in.
    honest = await _client_from(site, "127.0.0.2")
    assert (await honest.login("carol"))[0] == 303


# --- bulk enumeration of numbers through check -------------------------------------------


async def test_bulk_check_of_phone_numbers_is_limited(site: Site) -> None:
    settings = site.node.unlocked().settings
    settings.set("checks_per_hour", 5)
    settings.set("session_idle_minutes", 1440)
    await site.node.unlocked().alerts.publish(draft(1, region="GB-LND", phone="+447700900007"))
    mallory = await site.member("mallory")
    results = []
    for n in range(8):
        status, html, _ = await mallory.post(
            "/check", {"kind": "phone", "value": f"+44770090000{n}"}, page="/check"
        )
        results.append(status)
    assert results == [200] * 5 + [429] * 3  # the match at n=7 was never reached
    assert "many checks this hour" in html
    # More accounts from the same client share the client's budget.
    site.state.limits.check_client.limit = 7
    sybil = await site.member("sybil")
    statuses = [
        (await sybil.post("/check", {"kind": "phone", "value": "+447700900007"}, page="/check"))[0]
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    # An honest member elsewhere still checks, and finds the alert.
    honest = await _client_from(site, "127.0.0.3")
    await honest.signup("honest")
    status, html, _ = await honest.post(
        "/check", {"kind": "phone", "value": "07700 900007"}, page="/check"
    )
    assert status == 200 and "alert number 1" in html
    # Checks travel only in POST bodies: a GET with the number checks nothing.
    status, html, _ = await honest.get("/check?kind=phone&value=%2B447700900007")
    assert status == 200 and "alert number 1" not in html
