"""Inbound SMS webhooks on the web port (issue 15, point 2), one route per gateway format.

Rule: nothing in a text is read before its signature is checked, in constant time,
over the exact bytes received, with a timestamp within ``SMS_REPLAY_WINDOW_S`` of this
node's clock; a signature seen within the window is refused as a replay. A gateway
the admin has not set up answers a plain 404, like any unknown path. Bad signatures
get 401 and nothing else. Nothing about a text is logged.

- ``POST /sms/v1/inbound``: the generic format (docs/sms.md). JSON
  ``{"from", "text"}``; headers ``X-Alertnode-Timestamp`` (Unix seconds) and
  ``X-Alertnode-Signature: v1=hex(HMAC-SHA256(secret, timestamp "." body))``. The
  answer is in the response, ``{"reply": null | {"to", "text"}}``, for the gateway to
  send.
- ``POST /sms/v1/android``: "SMS Gateway for Android" (sms-gate.app) ``sms:received``
  webhooks; headers ``X-Timestamp`` and ``X-Signature: hex(HMAC-SHA256(key, body
  timestamp))``. The answer goes out through the reply channel (``SmsSender``).
- ``POST /sms/v1/twilio``: Twilio's inbound message webhook (form fields ``From``,
  ``Body``, ``MessageSid``…); header ``X-Twilio-Signature: base64(HMAC-SHA1(auth
  token, URL + every field name and value, sorted by name))`` over the exact URL the
  admin registered. Twilio sends no timestamp, so a ``MessageSid`` seen in the last
  ``TWILIO_SID_MEMORY_S`` is refused as a replay. The answer is TwiML in the response.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape as xml_escape

from aiohttp import web

from ..errors import Locked
from .context import host, state, unlocked
from .ratelimit import EVERYONE, key_of
from .sms_desk import NotifySender, SmsDesk, SmsError, SmsSender

log = logging.getLogger(__name__)

PREFIX = "/sms/v1/"
GATEWAY_KINDS: tuple[str, ...] = ("generic", "android", "twilio")
SMS_REPLAY_WINDOW_S = 300
MAX_SMS_BODY_BYTES = 16 * 1024
MAX_SEEN_SIGNATURES = 10_000
SEND_TIMEOUT_S = 30.0
TWILIO_SID_MEMORY_S = 24 * 60 * 60

SenderFactory = Callable[[str], SmsSender]


class Replies:
    """How answers leave when the gateway cannot carry them: ``sender(channel)`` gives
    the SmsSender for a reply channel (tests put a recording fake here)."""

    def __init__(self, sender: SenderFactory) -> None:
        self.sender = sender


SENDER_KEY: web.AppKey[Replies] = web.AppKey("sms_replies", Replies)
SEEN_KEY: web.AppKey[OrderedDict[bytes, int]] = web.AppKey("sms_seen", OrderedDict)
SIDS_KEY: web.AppKey[OrderedDict[bytes, int]] = web.AppKey("sms_twilio_sids", OrderedDict)


def generic_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def android_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(secret, body + timestamp.encode(), hashlib.sha256).hexdigest()


def twilio_signature(auth_token: bytes, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's request signature: base64 HMAC-SHA1 over the URL followed by each
    parameter's name and value, sorted by name (then value)."""
    data = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(auth_token, data.encode(), hashlib.sha1).digest()).decode()


def twiml(text: str | None) -> web.Response:
    """A TwiML answer: one message back to the sender, or nothing."""
    inner = "" if text is None else f"<Message>{xml_escape(text)}</Message>"
    body = f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'
    return web.Response(text=body, content_type="text/xml", charset="utf-8")


def _remember(seen: OrderedDict[bytes, int], value: str, now: int, keep_s: int) -> bool:
    """Record ``value`` as seen now; False if it was seen within ``keep_s``."""
    while seen and next(iter(seen.values())) < now - keep_s:
        seen.popitem(last=False)
    key = hashlib.sha256(value.encode()).digest()
    if key in seen:
        return False
    seen[key] = now
    while len(seen) > MAX_SEEN_SIGNATURES:
        seen.popitem(last=False)
    return True


def _refused(status: int, code: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": "Refused."}}, status=status)


def _fresh(request: web.Request, timestamp: str, signature: str) -> bool:
    """Whether the timestamp is within the window and the signature not seen in it;
    records the signature."""
    now = host(request).clock.now()
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > SMS_REPLAY_WINDOW_S:
        return False
    # Kept for twice the window: a signature stays refused while its timestamp could
    # still pass the check above.
    return _remember(request.app[SEEN_KEY], signature, now, 2 * SMS_REPLAY_WINDOW_S)


async def _read(request: web.Request) -> bytes | None:
    if request.content_length is not None and request.content_length > MAX_SMS_BODY_BYTES:
        return None
    body = await request.content.read(MAX_SMS_BODY_BYTES + 1)
    return None if len(body) > MAX_SMS_BODY_BYTES else body


def _desk(request: web.Request) -> SmsDesk:
    st, now = state(request), host(request).clock.now()
    opened = unlocked(request)

    def allow(sender: str) -> bool:
        return st.limits.sms_sender.take(key_of("sms", sender), now)

    def allow_unknown() -> bool:
        return st.limits.sms_unknown.take(EVERYONE, now)

    return SmsDesk(
        opened.store.sms,
        opened.alerts,
        lambda: str(opened.settings["phone_region"]),
        allow,
        allow_unknown,
    )


async def _verified(
    request: web.Request, kind: str, ts_header: str, sig_header: str
) -> tuple[bytes, str] | web.Response:
    """The body and reply channel of a correctly signed, fresh call, or the refusal."""
    if host(request).locked:
        raise Locked("locked")
    gateway = await unlocked(request).store.sms.gateway(kind)
    if gateway is None:
        raise web.HTTPNotFound()
    secret, channel = gateway.secret, gateway.channel
    body = await _read(request)
    if body is None:
        return _refused(413, "too_large")
    timestamp = request.headers.get(ts_header, "")
    given = request.headers.get(sig_header, "")
    sign = generic_signature if kind == "generic" else android_signature
    expected = sign(secret.encode(), timestamp, body)
    if not hmac.compare_digest(expected.encode(), given.encode()[:200]):
        return _refused(401, "bad_signature")
    if not _fresh(request, timestamp, given):
        return _refused(401, "stale_or_replayed")
    return body, channel


def _fields(body: bytes, *path: str) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    for name in path:
        data = data.get(name) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else None


async def inbound_generic(request: web.Request) -> web.Response:
    try:
        checked = await _verified(
            request, "generic", "X-Alertnode-Timestamp", "X-Alertnode-Signature"
        )
    except Locked:
        return _refused(503, "unavailable")
    if isinstance(checked, web.Response):
        return checked
    fields = _fields(checked[0])
    sender, text = (fields or {}).get("from"), (fields or {}).get("text")
    if not isinstance(sender, str) or not isinstance(text, str):
        return _refused(400, "invalid")
    answer = await _desk(request).answer(sender, text)
    reply = None if answer is None else {"to": answer[0], "text": answer[1]}
    return web.json_response({"reply": reply})


async def inbound_android(request: web.Request) -> web.Response:
    try:
        checked = await _verified(request, "android", "X-Timestamp", "X-Signature")
    except Locked:
        return _refused(503, "unavailable")
    if isinstance(checked, web.Response):
        return checked
    body, channel = checked
    event = _fields(body)
    if event is None or event.get("event") != "sms:received":
        return web.json_response({})  # pings and delivery reports: nothing to answer
    payload = _fields(body, "payload") or {}
    sender, text = payload.get("phoneNumber"), payload.get("message")
    if not isinstance(sender, str) or not isinstance(text, str):
        return _refused(400, "invalid")
    answer = await _desk(request).answer(sender, text)
    if answer is not None:
        sender_for = request.app[SENDER_KEY].sender
        try:
            await asyncio.wait_for(sender_for(channel).send(*answer), SEND_TIMEOUT_S)
        except (SmsError, TimeoutError):
            # The gateway retries a failed webhook, which would answer twice; the
            # failure is the channel's to report (its state in status), not a reason
            # to refuse the text.
            log.warning("an SMS answer could not be sent")
    return web.json_response({})


async def inbound_twilio(request: web.Request) -> web.Response:
    try:
        if host(request).locked:
            raise Locked("locked")
        gateway = await unlocked(request).store.sms.gateway("twilio")
    except Locked:  # also between states (opening, stopping): JSON, like the others
        return _refused(503, "unavailable")
    if gateway is None:
        raise web.HTTPNotFound()
    body = await _read(request)
    if body is None:
        return _refused(413, "too_large")
    try:
        params = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return _refused(400, "invalid")
    given = request.headers.get("X-Twilio-Signature", "")
    expected = twilio_signature(gateway.secret.encode(), gateway.url, params)
    if not hmac.compare_digest(expected.encode(), given.encode()[:200]):
        return _refused(401, "bad_signature")
    fields = dict(params)
    sid = fields.get("MessageSid") or fields.get("SmsSid") or given
    now = host(request).clock.now()
    if not _remember(request.app[SIDS_KEY], sid, now, TWILIO_SID_MEMORY_S):
        return _refused(401, "stale_or_replayed")
    sender, text = fields.get("From"), fields.get("Body")
    if not sender or text is None:
        return twiml(None)
    answer = await _desk(request).answer(sender, text)
    return twiml(None if answer is None else answer[1])


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post(PREFIX + "inbound", inbound_generic, name="sms_inbound")
    router.add_post(PREFIX + "android", inbound_android, name="sms_android")
    router.add_post(PREFIX + "twilio", inbound_twilio, name="sms_twilio")


def install(app: web.Application, node: object) -> None:
    """The app's replay window and its reply sender (n1's outbox through
    ``NotifySender``); tests set ``app[SENDER_KEY].sender`` to a recording fake."""
    app[SEEN_KEY] = OrderedDict()
    app[SIDS_KEY] = OrderedDict()
    app[SENDER_KEY] = Replies(lambda channel: NotifySender(node, channel))
