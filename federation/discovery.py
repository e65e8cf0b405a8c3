"""Discovery for pairing: advertise this node on the local network for a while, and
list the other nodes that are doing the same (zeroconf / mDNS, DNS-SD).

Rule: a ``Discovery`` advertises only between ``start()`` and ``close()``; nothing
in this module advertises on import or on its own. It runs commit-then-reveal
(``protocol.pairing``): it first advertises only a commitment, reveals its card and
nonce only once it holds another node's commitment, and never uses a commitment that
arrives after its reveal. What it finds is a *verified card* whose reveal matched its
commitment, with the six-digit code, never a peer: trust comes only when an admin
confirms the code and the node adds the card to its trust list.

    service type   _alertnode._tcp.local.
    instance name  alertnode-<first 16 hex digits of the node key>
    TXT, commit    v=2, h=<base64url commitment>
    TXT, reveal    v=2, h=<the same>, r=<base64url nonce>, n=<count>,
                   c0 .. c<count-1>: the card text in pieces of at most
                   TXT_CHUNK_CHARS characters (a TXT string is at most 255 bytes)

The whole signed card travels in the TXT record, so a discoverer verifies it without
any further request: the federation port needs no unauthenticated route, and nothing
has to be fetched over a TLS connection that is not pinned yet. Everyone on the
local network can read the card once it is revealed (the organisation's name, its
federation URL and key); that is why advertising is time-limited and off otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import urllib.parse
from collections.abc import Mapping, Sequence

import ifaddr
from zeroconf import InterfaceChoice, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from protocol.card import (
    CARD_TEXT_PREFIX,
    MAX_CARD_TEXT_CHARS,
    VerifiedCard,
    b64url_decode,
    b64url_encode,
    parse_card_text,
)
from protocol.errors import MalformedObject, ProtocolError
from protocol.pairing import Match, PairingSession

from .clock import Clock
from .errors import DiscoveryError as DiscoveryError

log = logging.getLogger(__name__)

SERVICE_TYPE = "_alertnode._tcp.local."
TXT_VERSION = "2"
TXT_CHUNK_CHARS = 200
MAX_TXT_CHUNKS = -(-MAX_CARD_TEXT_CHARS // TXT_CHUNK_CHARS)
# How many distinct nodes one pairing session keeps, and how many announcements may
# wait to be resolved: a noisy network cannot make a node hold more than this.
MAX_SIGHTINGS = 32
MAX_PENDING_NAMES = 64
RESOLVE_TIMEOUT_MS = 3000


def instance_name(key: bytes) -> str:
    return f"alertnode-{key.hex()[:16]}.{SERVICE_TYPE}"


def commit_txt(commitment: bytes) -> dict[str, str]:
    """The TXT properties of the commit phase."""
    return {"v": TXT_VERSION, "h": b64url_encode(commitment)}


def card_txt(card_text: str, commitment: bytes = b"", nonce: bytes = b"") -> dict[str, str]:
    """The TXT properties of the reveal phase: the commitment, nonce and card."""
    chunks = [card_text[i : i + TXT_CHUNK_CHARS] for i in range(0, len(card_text), TXT_CHUNK_CHARS)]
    if not chunks or len(chunks) > MAX_TXT_CHUNKS:
        raise MalformedObject("a node card does not fit in a TXT record")
    props = {"v": TXT_VERSION, "n": str(len(chunks))}
    if commitment:
        props["h"] = b64url_encode(commitment)
        props["r"] = b64url_encode(nonce)
    props.update({f"c{i}": chunk for i, chunk in enumerate(chunks)})
    return props


def _b64_prop(props: Mapping[bytes, bytes | None], name: bytes, what: str) -> bytes:
    raw = props.get(name) or b""
    if not raw.isascii() or len(raw) > 64:
        raise MalformedObject(f"the TXT record has a bad {what}")
    return b64url_decode(raw.decode("ascii"), what)


def read_txt(props: Mapping[bytes, bytes | None]) -> tuple[bytes, bytes | None, bytes | None]:
    """(commitment, card envelope bytes or None, nonce or None) from TXT ``props``.

    Raises MalformedObject for a record that is not ours or is malformed."""
    if props.get(b"v") != TXT_VERSION.encode():
        raise MalformedObject("not an alertnode v2 TXT record")
    commitment = _b64_prop(props, b"h", "commitment")
    if b"r" not in props:
        return commitment, None, None
    nonce = _b64_prop(props, b"r", "nonce")
    text = _card_text(props)
    if not text.startswith(CARD_TEXT_PREFIX) or len(text) > MAX_CARD_TEXT_CHARS:
        raise MalformedObject("the TXT record does not carry a node card")
    return commitment, b64url_decode(text[len(CARD_TEXT_PREFIX) :], "node card"), nonce


def card_from_txt(props: Mapping[bytes, bytes | None], now: int) -> VerifiedCard:
    """Rebuild and verify the card carried in TXT ``props`` (not its commitment).

    Raises MalformedObject for a record that is not ours, or another ProtocolError
    (LimitExceeded, BadSignature, InvalidField) for a card that does not verify.
    """
    if props.get(b"v") != TXT_VERSION.encode():
        raise MalformedObject("not an alertnode v2 TXT record")
    return parse_card_text(_card_text(props), now)


def _card_text(props: Mapping[bytes, bytes | None]) -> str:
    count_raw = props.get(b"n") or b""
    if not count_raw.isdigit() or not 1 <= int(count_raw) <= MAX_TXT_CHUNKS:
        raise MalformedObject("the TXT record has a bad chunk count")
    chunks = []
    for i in range(int(count_raw)):
        chunk = props.get(f"c{i}".encode())
        if not chunk or len(chunk) > TXT_CHUNK_CHARS or not chunk.isascii():
            raise MalformedObject("the TXT record has a missing or bad card chunk")
        chunks.append(chunk.decode("ascii"))
    return "".join(chunks)


def _check_interfaces(interfaces: Sequence[str] | None) -> list[str] | None:
    if interfaces is None:
        return None
    out = []
    for text in interfaces:
        try:
            out.append(str(ipaddress.ip_address(text.strip())))
        except ValueError:
            raise DiscoveryError(f"{text!r} is not an IP address of this machine") from None
    if not out:
        raise DiscoveryError("give at least one interface address, or none for all")
    return out


def _all_ipv4_addresses() -> list[str]:
    return [
        str(ip.ip)
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if ip.is_IPv4 and not ipaddress.ip_address(str(ip.ip)).is_loopback
    ]


def _port(url: str) -> int:
    parts = urllib.parse.urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


class Discovery:
    """One pairing session's advertisement and browser.

    ``interfaces`` is a list of this machine's IP addresses to use (tests pass
    ["127.0.0.1"]), or None for every interface.
    """

    def __init__(
        self,
        card: VerifiedCard,
        clock: Clock,
        interfaces: Sequence[str] | None,
        nonce: bytes,
    ) -> None:
        self._card = card
        self._session = PairingSession(card.envelope.to_bytes(), nonce)
        self._clock = clock
        self._interfaces = _check_interfaces(interfaces)
        self._zc: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._pending: asyncio.Queue[str] = asyncio.Queue(MAX_PENDING_NAMES)
        self._resolver: asyncio.Task[None] | None = None
        self.sightings: dict[bytes, Match] = {}

    @property
    def active(self) -> bool:
        return self._zc is not None

    async def start(self) -> None:
        """Advertise this node's card and browse for others. Raises DiscoveryError."""
        if self._zc is not None:
            return
        addresses = self._interfaces or _all_ipv4_addresses()
        key = self._card.key
        info = AsyncServiceInfo(
            SERVICE_TYPE,
            instance_name(key),
            port=_port(self._card.body.urls[0]),
            properties=commit_txt(self._session.our_commitment),
            server=f"alertnode-{key.hex()[:16]}.local.",
            parsed_addresses=addresses,
        )
        try:
            zc = AsyncZeroconf(interfaces=self._interfaces or InterfaceChoice.All)
        except (OSError, ValueError) as exc:
            raise DiscoveryError(f"cannot open the local network for pairing ({exc})") from None
        self._zc = zc
        try:
            self._resolver = asyncio.get_running_loop().create_task(
                self._resolve_names(), name="pairing-resolver"
            )
            self._browser = AsyncServiceBrowser(zc.zeroconf, [SERVICE_TYPE], handlers=[self._seen])
            # The inner awaitable completes once probing is done and the announcements
            # are out, so "pairing mode started" means others can see us.
            await (await zc.async_register_service(info))
            self._info = info
            # A commitment may have come in while we were announcing ourselves.
            if self._session.ready_to_reveal:
                await self._reveal(zc)
        except BaseException:
            await self.close()
            raise
        log.info("pairing: advertising on %d address(es)", len(addresses))

    async def close(self) -> None:
        """Stop advertising (a goodbye is sent) and browsing. Safe to call twice."""
        zc, self._zc = self._zc, None
        if zc is None:
            return
        if self._resolver is not None:
            self._resolver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resolver
            self._resolver = None
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        if self._info is not None:
            # Wait for the goodbye packets: closing first would cancel them, and others
            # would keep listing this node until their cache expired.
            await (await zc.async_unregister_service(self._info))
            self._info = None
        await zc.async_close()
        log.info("pairing: advertising stopped")

    def _seen(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change is ServiceStateChange.Removed or name == instance_name(self._card.key):
            return
        with contextlib.suppress(asyncio.QueueFull):
            self._pending.put_nowait(name)

    async def _resolve_names(self) -> None:
        while True:
            name = await self._pending.get()
            zc = self._zc
            if zc is None:
                return
            info = AsyncServiceInfo(SERVICE_TYPE, name)
            await info.async_request(zc.zeroconf, RESOLVE_TIMEOUT_MS)
            self.consider(name, info.properties)
            if self._session.ready_to_reveal and self._info is not None:
                await self._reveal(zc)

    async def _reveal(self, zc: AsyncZeroconf) -> None:
        assert self._info is not None
        _, nonce = self._session.reveal()
        props = card_txt(self._card.to_text(), self._session.our_commitment, nonce)
        info = AsyncServiceInfo(
            SERVICE_TYPE,
            self._info.name,
            port=self._info.port,
            properties=props,
            server=self._info.server,
            parsed_addresses=self._info.parsed_addresses(),
        )
        await (await zc.async_update_service(info))
        self._info = info
        log.info("pairing: commitment received; card revealed")

    def consider(self, name: str, props: Mapping[bytes, bytes | None] | None) -> None:
        """Take in one advertisement: hold its commitment, check its reveal."""
        if not props or name == instance_name(self._card.key):
            return
        try:
            commitment, card, nonce = read_txt(props)
            self._session.receive_commitment(name, commitment)
            if card is None or nonce is None:
                return
            match = self._session.receive_reveal(name, card, nonce, self._clock.now())
        except ProtocolError as exc:
            log.info("pairing: ignored an advertisement: %s", exc)
            return
        key = match.card.key
        if key == self._card.key:
            return
        if key not in self.sightings and len(self.sightings) >= MAX_SIGHTINGS:
            return
        self.sightings[key] = match
