"""Regression tests for what the fuzzers found, one per bug, each the smallest input.

Web app:
  1. a POST body that is not a form (bytes not in its charset, an unknown charset,
     broken multipart framing) answered 500 from the CSRF check; now 400;
  2. an id route given more digits than a 64-bit row id (/reports/999...9.json, whose
     place /reports/999...9/save has taken) answered 500 (SQLite OverflowError); now 404.
Control socket:
  3. a body that is not UTF-8 answered 500; now 400;
  4. a JSON string with a lone surrogate ("\\ud800") answered 500 wherever it reached
     an encoder (alert.publish, check, alert.list, peer.set, peer.remove); now 400;
  5. whole numbers past 64 bits answered 500 (alert.list limit, invite.create days,
     alert.publish hops); now 400; and invite.create made an already expired invite
     for a negative number of days; now 400.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.conftest import NodeFactory
from tests.node.test_web_support import Site, site_fixture  # noqa: F401

NOT_FORMS = [
    ("application/x-www-form-urlencoded", b"kind=other&value=abc\xff\xfe"),
    ("application/x-www-form-urlencoded; charset=no-such-charset", b"kind=other&value=abc"),
    ("application/x-www-form-urlencoded; charset=utf-16", b"kind=other&value=ab"),  # odd length
    ("multipart/form-data; boundary=xx", b'--xx\r\nContent-Disposition: form-data; name="v"'),
    ("multipart/form-data", b"no boundary at all"),
    (
        "multipart/form-data; boundary=xx",
        b'--xx\r\nContent-Disposition: form-data; name="value"\r\n\r\nab\xff\r\n--xx--\r\n',
    ),
]


@pytest.mark.parametrize(("ctype", "body"), NOT_FORMS)
async def test_a_body_that_is_not_a_form_is_a_400(site: Site, ctype: str, body: bytes) -> None:
    member = await site.member("alice")
    async with member.client.post(
        "/check", data=body, headers={"Content-Type": ctype}, allow_redirects=False
    ) as resp:
        assert resp.status == 400
        assert "could not be read" in await resp.text()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/reports/{n}/save"),
        ("POST", "/reports/{n}/save"),
        ("POST", "/reports/{n}/delete"),
        ("GET", "/review/{n}"),
        ("POST", "/review/{n}"),
        ("POST", "/review/{n}/decline"),
        ("POST", "/admin/members/{n}/revoke"),
    ],
)
async def test_an_id_past_64_bits_is_no_page(site: Site, method: str, path: str) -> None:
    admin = await site.member("root", "admin")
    token = await admin.token("/check")
    for n, status in (("9" * 19, 404), ("99999999999999999999999999", 404), ("12345", 404)):
        async with admin.client.request(
            method, path.format(n=n), data={"csrf": token}, allow_redirects=False
        ) as resp:
            assert resp.status == status, (path, n, resp.status)


async def _call(http: aiohttp.ClientSession, name: str, body: bytes) -> tuple[int, Any]:
    async with http.post(f"http://alertnode/v1/{name}", data=body) as resp:
        return resp.status, await resp.json()


CONTROL_CASES: list[tuple[str, Any]] = [
    ("status", b"\x80"),
    ("alert.list", b'{"region": "\xff"}'),
    (
        "alert.publish",
        {"categories": ["violence"], "danger": 3, "region": "GB", "description": "x\ud800"},
    ),
    ("alert.publish", {"categories": ["violence"], "danger": 3, "region": "GB", "lang": "\ud800"}),
    (
        "alert.publish",
        {
            "categories": ["violence"],
            "danger": 3,
            "region": "GB",
            "indicators": [["other", "ab\ud800"]],
        },
    ),
    ("alert.publish", {"categories": ["violence"], "danger": 3, "region": "GB", "hops": 2**70}),
    ("check", {"kind": "other", "value": "abc\ud800"}),
    ("check", {"kind": "email", "value": "a\ud800@example.org"}),
    ("alert.list", {"region": "\ud800"}),
    ("alert.list", {"limit": 2**70}),
    ("invite.create", {"days": 2**70}),
    ("invite.create", {"days": -5}),
    ("invite.create", {"days": 366}),
    ("peer.set", {"peer": "\ud800"}),
    ("peer.remove", {"peer": "\ud800"}),
]


async def test_control_commands_refuse_what_they_cannot_encode(make_node: NodeFactory) -> None:
    node = await make_node("A")
    store = node.unlocked().store
    now = node.clock.now()
    before = (await store.alerts.counts(now), len(await store.members.list_invites(now)))
    connector = aiohttp.UnixConnector(path=str(node.data_dir / "control.sock"))
    async with aiohttp.ClientSession(connector=connector) as http:
        for name, args in CONTROL_CASES:
            body = args if isinstance(args, bytes) else json.dumps(args).encode()
            status, answer = await _call(http, name, body)
            assert status == 400, (name, args, answer)
            assert set(answer) == {"error"} and "internal error" not in answer["error"]
        # Valid values still work.
        status, answer = await _call(http, "invite.create", b'{"days": 365}')
        assert status == 200
    after = (await store.alerts.counts(now), len(await store.members.list_invites(now)) - 1)
    assert after == before
