"""The end-to-end helper's readiness rule, on scripted answers and a fake clock.

A node started with its key answers "locked" for a moment (70 to 100 ms) before it has
unlocked and started federation; a helper that returned on that first answer made
the tests that followed fail now and then.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.cli import READY_POLL_S, wait_until_ready

LOCKED = {"locked": True, "web": "http://127.0.0.1:1/", "federation": None}
UNLOCKED_NO_FED = {"locked": False, "web": "http://127.0.0.1:1/", "federation": None}
UNLOCKED = {"locked": False, "web": "http://127.0.0.1:1/", "federation": "https://127.0.0.1:2"}


class Script:
    """Answers in order (None: the socket is not there yet), on a fake clock."""

    def __init__(self, answers: list[dict[str, Any] | None]) -> None:
        self.answers = answers
        self.asked = 0
        self.now = 0.0

    def ask(self) -> dict[str, Any] | None:
        answer = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        return answer

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def wait(script: Script, want: str, exited: str | None = None) -> dict[str, Any]:
    return wait_until_ready(
        script.ask, want, lambda: exited, timeout_s=5, clock=lambda: script.now, sleep=script.sleep
    )


def test_waits_past_locked_answers_for_unlocked_with_federation() -> None:
    script = Script([None, LOCKED, LOCKED, UNLOCKED_NO_FED, UNLOCKED])
    assert wait(script, "unlocked") == UNLOCKED
    assert script.asked == 5


def test_a_node_waiting_for_its_passphrase_is_ready_when_it_says_locked() -> None:
    script = Script([None, None, LOCKED])
    assert wait(script, "locked") == LOCKED
    assert script.asked == 3


def test_gives_up_at_the_deadline_saying_what_it_last_saw() -> None:
    script = Script([LOCKED])
    with pytest.raises(AssertionError, match=r"not unlocked within 5 s.*locked=True"):
        wait(script, "unlocked")
    assert script.now == pytest.approx(5, abs=READY_POLL_S)


def test_a_node_that_exits_fails_at_once() -> None:
    script = Script([None])
    with pytest.raises(AssertionError, match="exited before it was unlocked: exit code 1"):
        wait(script, "unlocked", exited="exit code 1: no")
    assert script.asked == 0
