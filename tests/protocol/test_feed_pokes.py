"""Pokes on the wire: the head they may carry, and the news a relay's poke names
(docs/protocol.md section 10, "A poke that names its news")."""

from __future__ import annotations

import pytest

from protocol import feed
from protocol.encoding import pack, unpack
from protocol.errors import InvalidField, LimitExceeded
from protocol.feed import MAX_POS, Poke, decode_poke, encode_poke
from protocol.limits import MAX_HOPS


def entry_id(i: int) -> bytes:
    return i.to_bytes(4, "big") * 8


@pytest.mark.parametrize("head", [-1, MAX_POS + 1, True, "1", b"1"])
def test_bad_pokes_are_refused(head: object) -> None:
    with pytest.raises(InvalidField):
        decode_poke(pack({"head": head}))


def test_a_poke_names_its_news_in_one_extension() -> None:
    news = tuple(feed.IdEntry("a", entry_id(n), n) for n in range(feed.MAX_POKE_NEWS))
    data = encode_poke(Poke(ext=feed.news_ext(news)))
    assert len(data) <= feed.MAX_SMALL_MESSAGE_BYTES
    assert unpack(data) == {
        "ext": {feed.NEWS_EXT: tuple(x for e in news for x in (e.id, e.hops))},
        "head": None,
    }
    assert feed.poke_news(decode_poke(data)) == news
    # A poke that does not say, or says only what this node does not know, names nothing.
    assert feed.poke_news(decode_poke(encode_poke(Poke()))) is None
    other = decode_poke(pack({"ext": {"org.example:x": 1}, "head": None}))
    assert feed.poke_news(other) is None


@pytest.mark.parametrize(
    "value",
    [
        [],
        [entry_id(1)],
        [entry_id(1), 1, entry_id(2)],
        [entry_id(1), 1, entry_id(1), 2],
        [b"short", 1],
        [entry_id(1), MAX_HOPS + 1],
        [entry_id(1), -1],
        [entry_id(1), True],
        [1, entry_id(1)],
        entry_id(1),
        [x for n in range(feed.MAX_POKE_NEWS + 1) for x in (entry_id(n), 1)],
    ],
)
def test_a_malformed_list_of_news_refuses_the_poke(value: object) -> None:
    with pytest.raises((InvalidField, LimitExceeded)) as refused:
        decode_poke(pack({"ext": {feed.NEWS_EXT: value}, "head": None}))
    if isinstance(refused.value, InvalidField):
        assert refused.value.field == "ext"
