"""The channel commands for real (issue 15, points 4 and 5): a running node, the
`alertnode` CLI, and e-mail through a real SMTP server (aiosmtpd on 127.0.0.1).
`channel list` and `status` never show the URL; the node's log holds neither the URL
nor the address."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.cli import RunningNode, alertnode, alertnode_json
from tests.node.test_notify_mail import Inbox, smtp_fixture  # noqa: F401

pytestmark = pytest.mark.slow

PASSWORD = "smtp-pass-8812"
ADDRESS = "cli-member@example.net"


def test_an_email_channel_delivers_and_never_shows_its_url(
    short_tmp: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    data = short_tmp / "n"
    alertnode("init", "--data", str(data), "--name", "n", "--no-passphrase", "--region", "GB",
              "--web", "127.0.0.1:0", "--fed", "127.0.0.1:0")  # fmt: skip
    node = RunningNode(data)
    try:
        url = f"mailto://notices:{PASSWORD}@127.0.0.1:{port}?mode=insecure&from=n@example.org"
        added = alertnode_json("channel", "add", "--data", str(data), "email", url)
        assert added == {"name": "email", "kind": "mailto"}
        started = time.monotonic()
        alertnode("channel", "test", "--data", str(data), "email", "--to", ADDRESS)
        print(f"\nchannel test through SMTP: {time.monotonic() - started:.2f} s (CLI included)")
        assert inbox.messages and inbox.messages[0][0] == [ADDRESS]
        listed = alertnode_json("channel", "list", "--data", str(data))
        (channel,) = listed["channels"]
        assert channel["name"] == "email" and channel["state"] == "ok" and channel["queue"] == 0
        people = alertnode("channel", "list", "--data", str(data)).stdout
        status = alertnode_json("status", "--data", str(data))
        assert status["notifications"]["channels"][0]["name"] == "email"
        for shown in (json.dumps(listed), people, json.dumps(status)):
            assert PASSWORD not in shown and str(port) not in shown
        missing = alertnode("channel", "test", "--data", str(data), "nope", "--to", ADDRESS,
                            check=False)  # fmt: skip
        assert missing.returncode != 0 and "no channel" in missing.stderr
        assert "Traceback" not in missing.stderr
        alertnode("channel", "remove", "--data", str(data), "email")
        assert alertnode_json("channel", "list", "--data", str(data))["channels"] == []
    finally:
        log = node.stop()
    for secret in (PASSWORD, ADDRESS):
        assert secret not in log
