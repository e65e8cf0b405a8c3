"""Fill a stopped node with synthetic alerts, to try its pages and checks at scale.

    python -m bench.fill --data DIR --alerts 1000000 [--passphrase-file F]

For checking a node from outside at the sizes docs/benchmarks.md reports (issue 17:
the alerts page of a node holding a million alerts). The alerts are the benchmarks'
own (``bench.data``): real signed envelopes from 40 fixed origin keys, as if a
trusted peer had relayed them (received from a relay key on no trust list, one hop),
stored with the node's own schema, sealing and tags, in large transactions. They
spread over the regions GB-R00 to GB-R19, pairs of categories and the three danger
levels, were created within the last 240 hours and expire 90 days after. Each of the
twenty numbers +44 7700 900000 to +44 7700 900019 (``bench.shared.PHONES_HIT``,
Ofcom's numbers for drama) is blinded with the node's current network key and named
by three alerts, so a check of one of them finds three; the other indicators are
stand-in values no number blinds to.

The node must be stopped (its lock is taken, so a running node makes this fail and
change nothing). A second fill adds as many new alerts again. Prints one JSON object:
how many alerts it added, how many the store held before and after, and the seconds
it took. Never on a node that serves members: its pages would show the test alerts.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import sys
import time
from pathlib import Path

from node.app import LOCK_FILE
from node.errors import NodeError
from node.keys import keystore
from node.store import Store
from protocol import indicators

from .data import BULK_BATCH_ROWS, bulk_insert, make_alerts
from .pull import RELAY_KEY
from .shared import COPIES_PER_PHONE, PHONES_HIT

# The most alerts one fill adds.
MAX_ALERTS = 5_000_000


def phone_slots(start: int, count: int) -> list[int]:
    """The numbers of the alerts (of ``start`` .. ``start + count - 1``) that name a
    real phone: COPIES_PER_PHONE for each of PHONES_HIT, spread over the range (fewer
    when there are fewer alerts than that)."""
    wanted = len(PHONES_HIT) * COPIES_PER_PHONE
    step = max(1, count // wanted)
    return [start + i * step for i in range(min(wanted, count))]


async def fill(data: Path, count: int, passphrase: str | None) -> dict[str, object]:
    opened = keystore.unlock(data, passphrase)
    if not opened.network:
        raise SystemExit("this node holds no network key (a key store older than v2)")
    key = indicators.current_key(opened.network)
    store = await Store.open(data, opened.data_key)
    try:
        row = await store.db.fetchone("SELECT count(*) FROM alerts")
        before = int(row[0]) if row else 0
        # Numbered on from what the store holds, so that a second fill adds new alerts.
        start = before
        blinded = [indicators.blind("phone", number, key, "GB") for number in PHONES_HIT]
        extra = {
            slot: blinded[n // COPIES_PER_PHONE % len(blinded)]
            for n, slot in enumerate(phone_slots(start, count))
        }
        now = int(time.time())
        t0 = time.perf_counter()
        for first in range(start, start + count, BULK_BATCH_ROWS):
            size = min(BULK_BATCH_ROWS, start + count - first)
            alerts = make_alerts(size, now, start=first, extra=extra, key_id=key.key_id)
            await bulk_insert(
                store, alerts, hops=1, received_from=RELAY_KEY, now=now, key_id=key.key_id
            )
        seconds = time.perf_counter() - t0
        row = await store.db.fetchone("SELECT count(*) FROM alerts")
        after = int(row[0]) if row else 0
    finally:
        await store.close()
    return {"added": count, "before": before, "after": after, "seconds": round(seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fill", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", type=Path, required=True, help="the node's data directory")
    parser.add_argument(
        "--alerts", type=int, required=True, help=f"how many to add (1 to {MAX_ALERTS:,})"
    )
    parser.add_argument(
        "--passphrase-file", type=Path, help="the admin passphrase (a node made with one)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.alerts <= MAX_ALERTS:
        parser.error(f"--alerts must be 1 to {MAX_ALERTS:,}")
    if not args.data.is_dir():
        parser.error(f"{args.data} is not a directory")
    passphrase = None
    if args.passphrase_file is not None:
        passphrase = args.passphrase_file.read_text().rstrip("\n")
    fd = os.open(args.data / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"a node is running on {args.data}: stop it first", file=sys.stderr)
            return 1
        try:
            result = asyncio.run(fill(args.data, args.alerts, passphrase))
        except NodeError as exc:
            print(str(exc), file=sys.stderr)
            return 1
    finally:
        os.close(fd)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
