"""Fixtures for federation tests on the in-memory network (see memnet.py)."""

from tests.federation.memnet import clock, livenet, memnet

__all__ = ["clock", "livenet", "memnet"]
