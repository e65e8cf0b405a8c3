"""Who is asking: the client that a per-client limit counts.

Rule: a forwarded-client header (``X-Forwarded-For``, ``Forwarded``) is read only on a
connection from a configured trusted proxy, and then only its rightmost address that
is not itself a trusted proxy names the client; on any other connection the connecting
address names the client and the headers are ignored, so nobody forges their way into
someone else's budget. A request that a trusted proxy passes on without a usable client
address (an onion service behind the proxy, a proxy set up to hide addresses, two
headers that disagree) is *anonymous*: it has no budget of its own, because a budget
shared by every anonymous visitor would let one of them lock out all the others, and
it pays with the proof of work (``work.py``) instead. IPv6 clients count by their /64,
which is what one subscriber usually holds. Addresses are never stored or logged:
callers get a keyed hash (``ratelimit.key_of``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..config import ProxyNetwork
from .ratelimit import key_of

IPV6_CLIENT_PREFIX = 64
# More hops than this in one header is not a proxy chain but a client padding it.
MAX_FORWARDED_HOPS = 32
_FORWARDED_PAIR = re.compile(r'^\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^";,\s]*)\s*$')

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Client:
    """One client as the limits see it: ``budget`` is the address (an IPv6 /64) its
    per-client limits count by, or None for an anonymous client."""

    budget: str | None

    @property
    def anonymous(self) -> bool:
        return self.budget is None

    def key(self, purpose: str) -> bytes | None:
        """The keyed hash a per-client limit counts by; None for an anonymous client
        (such a limit does not apply to it)."""
        return None if self.budget is None else key_of(purpose, self.budget)

    def shared_key(self, purpose: str) -> bytes:
        """Like ``key``, but every anonymous client shares one key: for the few
        limits (the unlock form) that must hold even for clients nobody can tell
        apart, at the price of being shared by them."""
        return key_of(purpose, "anonymous" if self.budget is None else self.budget)


def parse_address(text: str) -> Address | None:
    """An address from a header or a socket: ``1.2.3.4``, ``1.2.3.4:80``, ``::1``,
    ``[::1]:80``, ``::ffff:1.2.3.4`` (read as the IPv4 address); else None."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    text = text.split("%", 1)[0]  # a zone id never distinguishes clients
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _budget(address: Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


def _forwarded_for(values: Sequence[str]) -> list[str] | None:
    """The ``for=`` of each element of RFC 7239 ``Forwarded`` headers, in order ("" for
    an element without one); None when the headers cannot be read."""
    hops: list[str] = []
    for value in values:
        for element in value.split(","):
            found = ""
            for pair in element.split(";"):
                if not pair.strip():
                    continue
                match = _FORWARDED_PAIR.match(pair)
                if match is None:
                    return None
                if match.group(1).lower() == "for":
                    found = match.group(2)
            hops.append(found)
    return hops


class ClientPolicy:
    """Tells the client of a request from its connecting address and headers."""

    def __init__(self, trusted_proxies: Iterable[ProxyNetwork] = ()) -> None:
        self.trusted = tuple(trusted_proxies)

    def is_proxy(self, address: Address) -> bool:
        return any(address in network for network in self.trusted)

    def client(
        self, remote: str | None, forwarded_for: Sequence[str], forwarded: Sequence[str]
    ) -> Client:
        """The client of a request that came from ``remote`` and carried these
        ``X-Forwarded-For`` and ``Forwarded`` header values (each header's lines in
        order)."""
        connecting = parse_address(remote or "")
        if connecting is None:
            # A transport without an IP peer: nothing tells its clients apart.
            return Client("")
        if not self.is_proxy(connecting):
            return Client(_budget(connecting))
        by_xff = self._rightmost([h for v in forwarded_for for h in v.split(",")])
        hops = _forwarded_for(forwarded)
        by_forwarded = None if hops is None else self._rightmost(hops)
        if forwarded_for and forwarded and by_xff != by_forwarded:
            return Client(None)  # one of them was passed on from the client
        found = by_xff if forwarded_for else by_forwarded
        return Client(None if found is None else _budget(found))

    def _rightmost(self, hops: list[str]) -> Address | None:
        """The rightmost hop that is not a trusted proxy; None when it is not an
        address ("unknown", an obfuscated name) or every hop is a trusted proxy."""
        if len(hops) > MAX_FORWARDED_HOPS:
            return None
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:
                return None
            if not self.is_proxy(address):
                return address
        return None
