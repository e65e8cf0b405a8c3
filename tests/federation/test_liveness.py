"""One dead or silent peer never delays the others; retries back off with jitter."""

from __future__ import annotations

import asyncio
import random

import nacl.signing

from federation.sync import FIRST_BACKOFF_S, MAX_BACKOFF_S, SYNC_JITTER, Syncer
from protocol.card import make_card
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually, has_alert, pair

SILENT = nacl.signing.SigningKey(b"\x31" * 32)


async def test_silent_peer_does_not_delay_honest_peers(make_node: NodeFactory) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def black_hole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accept, read nothing, answer nothing

    server = await asyncio.start_server(black_hole, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        a = await make_node("A", allow_http=True)
        b = await make_node("B", allow_http=True)
        card = make_card(SILENT, "Silent", (f"http://127.0.0.1:{port}",), None, a.clock.now())
        await a.unlocked().trust.add_peer(card.to_text(), "relay", True, None)
        await pair(a, b)
        # A pokes both peers and the silent one hangs; B still gets the alert at once.
        alert_id = await a.unlocked().alerts.publish(draft(1))
        await eventually(lambda: has_alert(b, alert_id), timeout=5)
        # A's pull from B completes while its pull from the silent peer is stuck.
        b_alert = await b.unlocked().alerts.publish(draft(2))
        await eventually(lambda: has_alert(a, b_alert), timeout=5)
        assert accepted, "the silent peer was contacted"
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


def test_backoff_grows_to_a_cap_with_jitter() -> None:
    syncer = Syncer.__new__(Syncer)
    syncer._interval_s = 300.0
    syncer._rng = random.Random(1)
    lo, hi = 1 - SYNC_JITTER, 1 + SYNC_JITTER
    assert 300 * lo <= syncer._delay(0) <= 300 * hi
    assert FIRST_BACKOFF_S * lo <= syncer._delay(1) <= FIRST_BACKOFF_S * hi
    assert 2 * FIRST_BACKOFF_S * lo <= syncer._delay(2) <= 2 * FIRST_BACKOFF_S * hi
    assert syncer._delay(40) <= MAX_BACKOFF_S * hi
    delays = {round(syncer._delay(0), 3) for _ in range(20)}
    assert len(delays) > 1, "the periodic pull is jittered"
