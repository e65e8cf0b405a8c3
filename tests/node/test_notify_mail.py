"""E-mail through a real SMTP server (aiosmtpd on 127.0.0.1), from publishing at a
peer to the message in the inbox (issue 15, points 1 and 5).

Two real in-process nodes peer over pinned HTTPS on loopback; an alert published at
A is pulled by B (poked, not polled), and B's subscriber gets an e-mail within 10 s:
content-free by default, the structured text only after she opts in.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually, pair
from tests.node.test_notify import NOTICE, member, prefs, run

ARRIVAL_LIMIT_S = 10.0
SENDER = "Community notes <notes@example.org>"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage, float]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message, time.monotonic()))
        return "250 OK"

    def text(self, n: int) -> str:
        part = self.messages[n][1].get_body(("plain",))
        assert part is not None
        return str(part.get_content())


def _accept(*args: Any) -> AuthResult:
    return AuthResult(success=True)


@pytest.fixture(name="smtp")
def smtp_fixture() -> Iterator[tuple[Inbox, int]]:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    inbox = Inbox()
    # Any log-in is accepted (a channel URL holds the organisation's SMTP password),
    # without TLS: this server is on loopback and exists for the test only.
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=_accept, auth_require_tls=False
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def test_an_alert_published_at_a_peer_reaches_her_inbox_within_10_s(
    make_node: NodeFactory, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    a = await make_node("A")
    b = await make_node("B")
    await pair(a, b)
    url = f"mailto://127.0.0.1:{port}?mode=insecure&from={SENDER}"
    await run(b, "channel.add", name="email", url=url)
    notify = b.unlocked().store.notify
    her = await member(b)
    address = "member-7@example.net"
    sub = await notify.subscribe(her, "email", prefs(address=address))

    published = time.monotonic()
    await a.unlocked().alerts.publish(draft(1, phone="07700 900123", description="grey van"))
    await eventually(lambda: _arrived(inbox, 1), timeout=ARRIVAL_LIMIT_S)
    rcpt, message, at = inbox.messages[0]
    assert at - published < ARRIVAL_LIMIT_S
    assert rcpt == [address]
    assert message["Subject"] == "Community notes"
    assert inbox.text(0).strip() == NOTICE
    raw = message.as_string()
    for leak in ("grey van", "900123", "Violence", "dangerous"):
        assert leak not in raw

    await notify.update_subscription(her, sub, prefs(address=address, content=True))
    await a.unlocked().alerts.publish(draft(2, phone="07700 900123", description="grey van"))
    await eventually(lambda: _arrived(inbox, 2), timeout=ARRIVAL_LIMIT_S)
    text = inbox.text(1)
    assert "grey van" in text and "dangerous" in text and "Violence" in text
    assert "900123" not in inbox.messages[1][1].as_string()
    print(f"\npeer publish -> inbox: {inbox.messages[0][2] - published:.2f} s")


async def _arrived(inbox: Inbox, n: int) -> bool:
    await asyncio.sleep(0)
    return len(inbox.messages) >= n
