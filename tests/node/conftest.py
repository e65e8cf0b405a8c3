"""Fixtures shared by the store's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.store import Store


@pytest.fixture(name="store")
async def store_fixture(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A fresh store (its own data key) in a temporary directory, closed after."""
    s = await Store.open(tmp_path, b"\x01" * 32)
    yield s
    await s.close()
