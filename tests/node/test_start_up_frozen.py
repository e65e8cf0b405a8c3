"""What an unlock made leaves the cyclic collector's full scans (gc.freeze), and is
handed back when the node stops or wipes."""

from __future__ import annotations

import gc

from tests.conftest import NodeFactory


async def test_unlock_freezes_what_start_up_made_and_stop_thaws_it(make_node: NodeFactory) -> None:
    gc.unfreeze()
    node = await make_node("Frozen")
    state = node.unlocked()
    assert gc.get_freeze_count() > 0
    # The unlocked state is frozen: no generation the collector scans holds it.
    assert not any(o is state for o in gc.get_objects())
    await node.stop()
    assert gc.get_freeze_count() == 0
    assert any(o is state for o in gc.get_objects())


async def test_a_wipe_thaws_and_collects_what_unlock_froze(make_node: NodeFactory) -> None:
    gc.unfreeze()
    node = await make_node("Wiped")
    assert gc.get_freeze_count() > 0
    await node.wipe()
    assert gc.get_freeze_count() == 0
