"""Red-team tests of log-in and sign-up limits (issue 12, items 6 and 7), against a real
in-process node over HTTP: parallel guesses against one account, one attacker behind
the members' reverse proxy, forged forwarding headers, forms sent without the proof of
work, and the slow lane for browsers without JavaScript."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from federation.clock import FakeClock
from node.config import parse_proxies
from node.web import web_app
from node.web.ratelimit import LOGIN_FAILURES_PER_ACCOUNT, LOGIN_WINDOW_S
from node.web.work import CHALLENGE_TTL_S, SlowLane, solve
from tests.node.test_web_support import (  # noqa: F401
    PASSPHRASE,
    Site,
    StillClock,
    Visitor,
    csrf_of,
    site_fixture,
    work_of,
)
from tests.security.test_web_limits import CountingPool

PROXY = "127.0.0.1"  # the reverse proxy's address, as the node sees it
NOT_ACCEPTED = "This form could not be checked"


async def _site(make_node: Any, proxies: list[str]) -> Site:
    node = await make_node(clock=StillClock(int(time.time())))
    server = TestServer(web_app(node, parse_proxies(proxies, "trusted_proxies")))
    await server.start_server()
    return Site(node, server)


@pytest.fixture(name="proxied")
async def proxied_fixture(make_node: Any) -> AsyncIterator[Site]:
    """A node whose web app sits behind a reverse proxy on 127.0.0.1."""
    site = await _site(make_node, [PROXY])
    try:
        yield site
    finally:
        await site.close()


def _count_hashes(site: Site) -> CountingPool:
    counting = CountingPool()
    site.node.hashes.close()
    site.node.hashes = counting
    return counting


def _checked(pool: CountingPool) -> int:
    return sum(1 for name, _ in pool.calls if name == "passphrase_matches")


async def _visitor_from(site: Site, address: str, **headers: str) -> Visitor:
    """A visitor whose connections come from another loopback address."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    client: TestClient[Any, Any] = TestClient(site.server, connector=connector, headers=headers)
    await client.start_server()
    site.clients.append(client)
    return Visitor(site, client)


# --- item 6: parallel guesses ----------------------------------------------------------


async def test_parallel_guesses_are_counted_before_the_slow_hash(proxied: Site) -> None:
    await (await proxied.visitor()).signup("alice")
    proxied.node.unlocked().settings.set("login_work_bits", 8)  # 300 solutions, quickly
    pool = _count_hashes(proxied)
    attacker = await proxied.visitor()
    forms = []
    for i in range(300):
        _, page, _ = await attacker.get("/login")
        guess = {"nickname": "alice", "passphrase": f"guess number {i}"}
        forms.append({"csrf": csrf_of(page), **work_of(page), **guess})

    async def send(i: int, form: dict[str, str]) -> int:
        # Each guess from another address behind the proxy: no per-client limit binds.
        headers = {"X-Forwarded-For": f"203.0.{i // 200}.{i % 200 + 1}"}
        async with attacker.client.post(
            "/login", data=form, headers=headers, allow_redirects=False
        ) as resp:
            return resp.status

    statuses = await asyncio.gather(*(send(i, form) for i, form in enumerate(forms)))
    # Only as many guesses as the account allows reached the slow hash; the rest were
    # turned away before it.
    assert _checked(pool) == LOGIN_FAILURES_PER_ACCOUNT
    assert sorted(set(statuses)) == [400, 429]
    assert statuses.count(400) == LOGIN_FAILURES_PER_ACCOUNT
    # The account is locked out for the rest of the window, even to the right passphrase
    # from a fresh address; after the window it opens again.
    alice = await proxied.visitor(**{"X-Forwarded-For": "198.51.100.7"})
    status, html, _ = await alice.login("alice")
    assert status == 429 and "Too many attempts" in html
    assert _checked(pool) == LOGIN_FAILURES_PER_ACCOUNT
    proxied.node.clock.advance(LOGIN_WINDOW_S)  # type: ignore[attr-defined]
    assert (await alice.login("alice"))[0] == 303


async def test_a_right_passphrase_clears_failures_but_not_guesses_in_flight(site: Site) -> None:
    await (await site.visitor()).signup("alice")
    v = await site.visitor()
    for i in range(LOGIN_FAILURES_PER_ACCOUNT - 1):
        assert (await v.login("alice", f"wrong {i}"))[0] == 400
    assert (await v.login("alice"))[0] == 303  # clears the four failures
    for i in range(LOGIN_FAILURES_PER_ACCOUNT):
        assert (await v.login("alice", f"wrong again {i}"))[0] == 400
    assert (await v.login("alice"))[0] == 429


async def test_parallel_guesses_on_the_account_and_wipe_pages_are_counted_first(
    site: Site,
) -> None:
    """The same race where a logged-in session is asked for its passphrase again:
    passphrase change, account deletion and the admin's wipe page."""
    admin = await site.member("root", "admin")
    pool = _count_hashes(site)
    token = await admin.token("/account")

    async def guess(path: str, form: dict[str, str]) -> int:
        async with admin.client.post(
            path, data={"csrf": token, **form}, allow_redirects=False
        ) as resp:
            return resp.status

    change = {"current": "not my passphrase", "new": "new passphrase 1", "new2": "new passphrase 1"}
    wipe = {"confirm": "yes", "passphrase": "not my passphrase"}
    statuses = await asyncio.gather(
        *(guess("/account/passphrase", change) for _ in range(20)),
        *(guess("/admin/wipe", wipe) for _ in range(20)),
    )
    assert _checked(pool) == LOGIN_FAILURES_PER_ACCOUNT
    assert statuses.count(400) == 40  # each refused with its form, none went through
    assert not site.node.locked and (await admin.get("/account"))[0] == 200


# --- item 7: one client per address, behind a proxy too --------------------------------


async def test_one_attacker_behind_the_proxy_cannot_lock_out_other_members(
    proxied: Site,
) -> None:
    for nick in ("alice", "bobby"):
        await (await proxied.visitor()).signup(nick)
    proxied.state.limits.login_client.limit = 10
    # An attacker the proxy names by its address sprays guesses over nicknames: it
    # runs into its own per-client limit...
    attacker = await proxied.visitor(**{"X-Forwarded-For": "203.0.113.66"})
    statuses = [(await attacker.login(f"user{i}", "not it at all"))[0] for i in range(12)]
    assert statuses == [400] * 10 + [429] * 2
    # ... and members behind the same proxy, from their own addresses, log in.
    alice = await proxied.visitor(**{"X-Forwarded-For": "198.51.100.7"})
    assert (await alice.login("alice"))[0] == 303
    # A visitor the proxy cannot name (an onion service, a proxy that hides addresses)
    # has no budget that another could use up: they pay with the proof of work.
    hidden = await proxied.visitor()
    statuses = [(await hidden.login(f"user{i}", "not it at all"))[0] for i in range(12)]
    assert statuses == [400] * 12
    bobby = await proxied.visitor()
    assert (await bobby.login("bobby"))[0] == 303


async def test_without_a_trusted_proxy_everyone_behind_it_is_one_client(site: Site) -> None:
    """The negative control: the default (no trusted proxy) keeps counting by the
    connecting address, so behind an unconfigured proxy one attacker still locks out
    everyone. This is why the admin guide says to set --trusted-proxy."""
    await (await site.visitor()).signup("bobby")
    site.state.limits.login_client.limit = 10
    attacker = await site.visitor(**{"X-Forwarded-For": "203.0.113.66"})
    for i in range(10):
        await attacker.login(f"user{i}", "not it at all")
    bobby = await site.visitor(**{"X-Forwarded-For": "198.51.100.8"})
    assert (await bobby.login("bobby"))[0] == 429


async def test_a_forged_forwarded_header_from_a_non_proxy_is_ignored(make_node: Any) -> None:
    site = await _site(make_node, ["127.0.0.2"])  # the proxy connects from 127.0.0.2
    try:
        await (await site.visitor()).signup("alice")
        site.state.limits.login_client.limit = 10
        # A client connecting directly from 127.0.0.1 claims to be many others, and
        # then to be alice's own address: it is counted as itself every time.
        attacker = await site.visitor()
        statuses = []
        for i in range(12):
            forged = "198.51.100.7" if i % 2 else f"203.0.113.{i}"
            headers = {"X-Forwarded-For": forged, "Forwarded": f"for={forged}"}
            _, page, _ = await attacker.get("/login")
            guess = {"nickname": f"user{i}", "passphrase": "x"}
            data = {"csrf": csrf_of(page), **work_of(page), **guess}
            async with attacker.client.post(
                "/login", data=data, headers=headers, allow_redirects=False
            ) as resp:
                statuses.append(resp.status)
        assert statuses == [400] * 10 + [429] * 2
        # alice, through the real proxy, from the address the attacker claimed: in.
        alice = await _visitor_from(site, "127.0.0.2", **{"X-Forwarded-For": "198.51.100.7"})
        assert (await alice.login("alice"))[0] == 303
    finally:
        await site.close()


# --- item 7: the proof of work ---------------------------------------------------------


async def test_a_login_without_a_valid_proof_of_work_is_refused_clearly(site: Site) -> None:
    await (await site.visitor()).signup("alice")
    pool = _count_hashes(site)
    v = await site.visitor()
    login = {"nickname": "alice", "passphrase": PASSPHRASE}

    async def attempt(**work: str) -> tuple[int, str]:
        status, html, _ = await v.post("/login", {**login, **work})
        return status, html

    _, page, _ = await v.get("/login")
    fresh = work_of(page)
    challenge, solution = fresh["pow_challenge"], fresh["pow"]
    parts = challenge.split(".")
    easier = ".".join([*parts[:3], "0", *parts[4:]])  # the MAC binds the difficulty
    _, signup_page, _ = await v.get("/signup")
    for work in (
        {"pow_challenge": ""},  # none at all
        {"pow_challenge": "1.login.0.0.00.00", "pow": "0"},  # made up
        {"pow_challenge": easier, "pow": str(solve(easier))},
        {"pow_challenge": challenge, "pow": str(int(solution) + 1)},  # not a solution
        {"pow_challenge": challenge, "pow": "0" + solution},  # the same number, padded
        work_of(signup_page),  # solved, but for another form
    ):
        status, html = await attempt(**work)
        assert status == 400, work
        assert NOT_ACCEPTED in html and "Reload the page and send it again" in html
    # A solved challenge is good once; sent again (a replay) it is refused.
    assert await attempt(**fresh) == (303, "")
    status, html = await attempt(**fresh)
    assert status == 400 and NOT_ACCEPTED in html
    # One left open too long is refused with its own words, and a fresh one works.
    _, page, _ = await v.get("/login")
    late = work_of(page)
    site.node.clock.advance(CHALLENGE_TTL_S)  # type: ignore[attr-defined]
    status, html = await attempt(**late)
    assert status == 400 and "This form was open too long. Send it again." in html
    assert (await attempt())[0] == 303
    # Only the two logins that got through reached the slow hash.
    assert _checked(pool) == 2
    # Sign-up asks for the work too.
    code = await site.invite()
    signup = {"invite": code, "nickname": "bobby", "passphrase": PASSPHRASE}
    status, html, _ = await v.post(
        "/signup", {**signup, "passphrase2": PASSPHRASE, "pow_challenge": ""}
    )
    assert status == 400 and NOT_ACCEPTED in html
    assert (await v.post("/signup", {**signup, "passphrase2": PASSPHRASE}))[0] == 303


async def test_without_javascript_the_form_waits_in_the_slow_lane(site: Site) -> None:
    await (await site.visitor()).signup("alice")
    lane_clock = FakeClock()
    site.state.slow_lane = SlowLane(lane_clock, wait_s=3.0, slots=2)
    members = [await site.visitor() for _ in range(4)]

    async def no_js(v: Visitor) -> tuple[int, str]:
        _, page, _ = await v.get("/login")
        unsolved = {**work_of(page), "pow": ""}  # what a browser without the script sends
        form = {"csrf": csrf_of(page), **unsolved, "nickname": "alice", "passphrase": PASSPHRASE}
        async with v.client.post("/login", data=form, allow_redirects=False) as resp:
            return resp.status, await resp.text()

    waiting = [asyncio.create_task(no_js(v)) for v in members[:2]]
    assert await lane_clock.sleeping(2) == [3.0, 3.0]
    # The lane is full: the next one without the work is turned away at once, in words...
    status, html = await no_js(members[2])
    assert status == 429 and "without JavaScript right now" in html
    # ... while a browser that did the work is not held up by it.
    assert (await members[3].login("alice"))[0] == 303
    lane_clock.advance(3.0)
    assert [status for status, _ in await asyncio.gather(*waiting)] == [303, 303]
    # The lane is free again.
    task = asyncio.create_task(no_js(members[2]))
    await lane_clock.sleeping(1)
    lane_clock.advance(3.0)
    assert (await task)[0] == 303


async def test_the_pages_carry_the_work_and_say_what_happens_without_javascript(
    site: Site,
) -> None:
    v = await site.visitor()
    for path in ("/login", "/signup"):
        status, html, resp = await v.get(path)
        assert status == 200
        assert "data-pow" in html and 'name="pow_challenge"' in html
        assert re.search(r'<script src="/static/pow\.[0-9a-f]{16}\.js" defer></script>', html)
        assert "<noscript>" in html and "Without JavaScript this form waits" in html
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    status, js, _ = await v.get("/static/pow.js")
    assert status == 200
    for loads in ("fetch(", "XMLHttpRequest", "import", "src=", "eval("):
        assert loads not in js  # it loads nothing and runs nothing but itself
    # Other pages do not load the script.
    status, html, _ = await v.get("/")
    assert "pow.js" not in html
