"""The member's notification page (issue 15, point 1): she adds a way to be told,
sees her address only by its last characters, opts in to content only with a tick
under the warning, and removes it at once; nothing of it reaches the log."""

from __future__ import annotations

import json
import logging
import re

import pytest

from tests.federation.nodes import draft, eventually
from tests.node.test_notify import SECRET_TOKEN, Endpoint, endpoint_fixture, run  # noqa: F401
from tests.node.test_web_support import Site, site_fixture  # noqa: F401

ADDRESS = "page-member-3391@example.net"
NOTICE = "Something new for you; open the site."


async def test_a_member_subscribes_opts_in_and_removes_it(
    site: Site, endpoint: tuple[Endpoint, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ep, url = endpoint
    her = await site.member("PageNick")
    status, html, _ = await her.get("/account/notifications")
    assert status == 200 and "has not set up any service" in html

    await run(site.node, "channel.add", name="hook", url=url)
    status, html, _ = await her.get("/account/notifications")
    assert "Messages show on your lock screen" in html
    assert SECRET_TOKEN not in html and "127.0.0.1" not in html

    form = {"channel": "hook", "address": ADDRESS, "min_danger": "2", "mode": "immediate",
            "lang": "en", "region": "GB-LND"}  # fmt: skip
    status, html, resp = await her.post("/account/notifications", form)
    assert status == 303 and resp.headers["Location"] == "/account/notifications"
    status, html, _ = await her.get("/account/notifications")
    assert "Done." in html and ADDRESS not in html and ADDRESS[-4:] in html

    alerts = site.node.unlocked().alerts
    await alerts.publish(draft(1, region="GB-MAN", description="elsewhere"))  # not her region
    await alerts.publish(draft(2, region="GB-LND", description="blue coat"))
    await eventually(lambda: _count(ep, 1))
    assert ep.got[0]["message"] == NOTICE and ep.got[0]["to"] == ADDRESS

    # A second subscription with the tick: the alert's details.
    status, html, _ = await her.post("/account/notifications", {**form, "content": "yes"})
    assert status == 303
    await alerts.publish(draft(3, region="GB-LND", description="blue coat"))
    await eventually(lambda: _count(ep, 3))
    plain, detailed = sorted(ep.got[1:], key=lambda g: "blue coat" in g["message"])
    assert plain["message"] == NOTICE and "blue coat" in detailed["message"]

    # Remove both: nothing more is sent.
    subs = await site.store.notify.member_subscriptions(await _member_id(site, "PageNick"))
    for sub in subs:
        status, _, _ = await her.post(
            "/account/notifications/remove", {"subscription": str(sub.id)},
            page="/account/notifications",
        )  # fmt: skip
        assert status == 303
    assert await site.store.notify.member_subscriptions(subs[0].member_id) == []
    # Someone else's subscription cannot be removed by guessing its number.
    other = await site.member("OtherNick")
    status, _, _ = await other.post(
        "/account/notifications/remove", {"subscription": str(subs[0].id)},
        page="/account/notifications",
    )  # fmt: skip
    assert status == 404

    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (ADDRESS, SECRET_TOKEN, "blue coat"):
        assert secret not in logged
    assert json.dumps(ep.got)  # the endpoint did receive


async def test_a_bad_address_is_refused_with_a_sentence(
    site: Site, endpoint: tuple[Endpoint, str]
) -> None:
    _, url = endpoint
    await run(site.node, "channel.add", name="hook", url=url)
    her = await site.member("BadAddr")
    form = {"channel": "hook", "address": "two words", "min_danger": "1", "mode": "digest",
            "lang": "fr"}  # fmt: skip
    status, html, _ = await her.post("/account/notifications", form)
    assert status == 400 and "without spaces" in html
    assert not re.search(r"two words", html)


async def _count(ep: Endpoint, n: int) -> bool:
    return len(ep.got) >= n


async def _member_id(site: Site, nick: str) -> int:
    member, _ = await site.store.members.credentials(nick)
    assert member is not None
    return int(member.id)
