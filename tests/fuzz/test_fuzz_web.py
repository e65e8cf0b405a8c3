"""Fuzzing every form of the web app with a valid session and CSRF token.

An admin (who may use every form) posts arbitrary text and values into each POST form,
the id-carrying routes get arbitrary digits, the GET forms arbitrary query strings, and
every POST route gets bodies that are not forms at all. Every answer must be a page
(never a 500), and no markup sent in is ever reflected unescaped.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.settings import SETTINGS as NODE_SETTINGS
from tests.federation.nodes import draft
from tests.node.test_web_support import Site, Visitor, site_fixture  # noqa: F401

INCIDENT = (datetime.date.today() - datetime.timedelta(days=2)).isoformat()
EDITOR = {
    "categories": "violence",
    "danger": "2",
    "region": "GB-LND",
    "incident": INCIDENT,
    "phone": "+447700900123",
    "email": "",
    "handle": "",
    "plate": "",
    "other": "",
    "description": "Refused to pay. Call 07700 900456",
    "lang": "en",
    "hops": "1",
    "tlp": "GREEN",
    "expires_days": "30",
    "action": "preview",
    "keep_findings": "",
    "find_0": "07700 900456",
    "fix_0": "move",
    "kind_0": "phone",
    "sugg_0": "+447700900456",
}
# form path -> the fields it reads, with valid values (the fuzzer changes some of them).
FORMS: dict[str, dict[str, str]] = {
    "/signup": {
        "invite": "AAAA-BBBB",
        "nickname": "newbie",
        "passphrase": "x" * 12,
        "pow_challenge": "1.signup.1790000000.16.00.00",
        "pow": "0",
    },
    "/login": {
        "nickname": "someone",
        "passphrase": "a long enough passphrase",
        "pow_challenge": "1.login.1790000000.16.00.00",
        "pow": "12345",
    },
    "/check": {"kind": "phone", "value": "+447700900123"},
    "/report": {
        "categories": "violence",
        "incident": INCIDENT,
        "region": "GB-LND",
        "danger": "2",
        "phone": "+447700900123",
        "email": "",
        "handle": "",
        "plate": "",
        "person": "Tall.",
        "text": "He refused to pay.",
        "share": "node",
    },
    "/account/passphrase": {"current": "wrong", "new": "new passphrase 1", "new2": "x"},
    "/account/delete": {"confirm": "yes", "passphrase": "not mine at all"},
    "/review/new": EDITOR,
    "/review/{report}": EDITOR,
    "/supersede/{alert}": EDITOR,
    "/published/{alert}/retract": {"reason": "mistaken", "confirm": "yes"},
    "/admin/trust": {
        "op": "add",
        "card": "alertnode-card:1:AAAA",
        "accept": "relay",
        "share": "1",
        "key": "nobody",
        "suspended": "",
        "purge": "",
    },
    "/admin/invites": {"role": "member", "days": "3"},
    "/admin/settings": {s.name: "" for s in NODE_SETTINGS}
    | {"regions": "GB-LND GB-MAN", "phone_region": "GB", "checks_per_hour": "10000"},
    "/unlock": {"passphrase": "x"},
    # Choices sent by POST so that no URL holds them (docs/web.md, "No telling history").
    "/alerts": {"region": "GB-LND", "category": "violence", "danger": "2"},
    "/feed": {"region": "GB-LND", "lang": "en"},
    "/bulletin": {"region": "GB-LND", "lang": "en"},
    "/lang": {"to": "fr", "next": "/check"},
    "/login/save": {"save": "1"},
}
ID_ROUTES = (
    ("POST", "/review/{n}"),
    ("POST", "/review/{n}/decline"),
    ("GET", "/review/{n}"),
    ("GET", "/reports/{n}/save"),
    ("POST", "/reports/{n}/save"),
    ("POST", "/reports/{n}/delete"),
    ("POST", "/admin/members/{n}/revoke"),
)
# These pages once read their choices from the query; a query is now ignored.
GET_FORMS = {
    "/alerts": ("region", "category", "danger"),
    "/bulletin": ("region", "lang"),
    "/feed": ("region", "lang"),
    "/lang": ("to", "next"),
    "/": ("done",),
    "/reports": ("done",),
    "/published": ("done",),
    "/admin/settings": ("done",),
}
MARKUP = (
    "<fz-tag>",
    '"><fz-attr x="',
    "'><fz-quote>",
    "<img src=x onerror=fz()>",
    "</textarea><fz-ta>",
    "<script>fz()</script>",
    "javascript:fz()",
    "]]><fz-cdata>",
)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_no_markup(html: str, what: object) -> None:
    assert "<fz" not in html and "<img src=x" not in html and "<script>fz" not in html, what
    assert not re.search(r"(?:href|src|action)=\"\s*javascript:", html, re.I), what


class Admin:
    def __init__(self, site: Site, visitor: Visitor, token: str, ids: dict[str, str]) -> None:
        self.site, self.visitor, self.token, self.ids = site, visitor, token, ids

    async def send(self, method: str, path: str, fields: list[tuple[str, str]]) -> str:
        data = [("csrf", self.token), *fields] if method == "POST" else None
        params = fields if method == "GET" else None
        async with self.visitor.client.request(
            method, path, data=data, params=params, allow_redirects=False
        ) as resp:
            html = await resp.text()
            assert resp.status < 500, (method, path, fields, resp.status)
            return html


@pytest.fixture
async def admin(site: Site) -> AsyncIterator[Admin]:
    limits = site.state.limits
    for limit in vars(limits).values():
        limit.limit = 10**9  # rate limits are tested elsewhere: reach the handlers
    site.node.unlocked().settings.set("checks_per_hour", 10000)
    member = await site.member("member1")
    await member.post(
        "/report",
        {**FORMS["/report"], "categories": "violence"},
    )
    report = (await site.store.reports.list())[0].id
    alert = await site.node.unlocked().alerts.publish(draft(1, region="GB-LND"))
    visitor = await site.member("root", "admin")
    yield Admin(
        site, visitor, await visitor.token("/check"), {"report": str(report), "alert": alert.hex()}
    )
    # The node still serves pages.
    status, _, _ = await visitor.get("/check")
    assert status == 200


text_values = (
    st.text(max_size=60)
    | st.sampled_from(MARKUP)
    | st.builds(
        lambda a, m, b: a + m + b,
        st.text(max_size=10),
        st.sampled_from(MARKUP),
        st.text(max_size=10),
    )
    | st.sampled_from(
        ("", " ", "0", "-1", "99999999999999999999999", "GB-LND", "RED", "\x00", "\u202e")
    )
    | st.text(st.characters(codec="utf-8"), min_size=300, max_size=5000)
)


@st.composite
def form_posts(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    path = draw(st.sampled_from(sorted(FORMS)))
    fields = dict(FORMS[path])
    for name in draw(
        st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=4, unique=True)
    ):
        fields[name] = draw(text_values)
    pairs = list(fields.items())
    if draw(st.booleans()):
        # A field repeated, or one the form does not know.
        name = draw(st.sampled_from([*sorted(fields), "unknown"]))
        pairs.append((name, draw(text_values)))
    return path, pairs


@FUZZ
@given(form_posts())
async def test_forms_with_arbitrary_values(
    admin: Admin, case: tuple[str, list[tuple[str, str]]]
) -> None:
    path, fields = case
    html = await admin.send("POST", path.format(**admin.ids), fields)
    assert_no_markup(html, case)


@settings(FUZZ, max_examples=60)
@given(
    st.sampled_from(ID_ROUTES),
    st.integers(0, 10**30).map(str) | st.sampled_from(("0", "00001", "\u0661", "9" * 400)),
)
async def test_id_routes_with_arbitrary_numbers(
    admin: Admin, route: tuple[str, str], number: str
) -> None:
    method, path = route
    if path.endswith("/revoke") and number.lstrip("0") in ("1", "2", "3"):
        return  # revoking the test's own members is allowed, and tested elsewhere
    await admin.send(method, path.format(n=number), [])


@settings(FUZZ, max_examples=80)
@given(st.sampled_from(sorted(GET_FORMS)), st.data())
async def test_get_forms_with_arbitrary_queries(admin: Admin, path: str, data: Any) -> None:
    names = data.draw(st.lists(st.sampled_from(GET_FORMS[path]), max_size=4))
    fields = [(name, data.draw(text_values, label=name)) for name in names]
    html = await admin.send("GET", path, fields)
    assert_no_markup(html, (path, fields))


@settings(FUZZ, max_examples=60)
@given(
    st.sampled_from(sorted(FORMS)),
    st.sampled_from(
        (
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=latin-1",
            "application/x-www-form-urlencoded; charset=utf-16",
            "application/x-www-form-urlencoded; charset=no-such-charset",
            "multipart/form-data",
            "multipart/form-data; boundary=xx",
            "text/plain",
            "application/json",
        )
    ),
    st.binary(max_size=300),
)
async def test_bodies_that_are_not_forms(admin: Admin, path: str, ctype: str, tail: bytes) -> None:
    body = b"csrf=" + admin.token.encode() + b"&" + tail
    if ctype.startswith("multipart"):
        body = b'--xx\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n' + tail
    async with admin.visitor.client.post(
        path.format(**admin.ids), data=body, headers={"Content-Type": ctype}, allow_redirects=False
    ) as resp:
        assert resp.status < 500, (path, ctype, tail, resp.status)
