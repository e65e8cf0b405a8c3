"""The control socket: how ``alertnode`` commands talk to a running node.

Rule: the socket is a Unix socket in the data directory with mode 0600, so only the
node's own user can use it. Each command is ``POST /v1/<name>`` with a JSON object
and answers a JSON object, or ``{"error": sentence}`` with a non-2xx status. Handlers
validate every argument; a bad one is a UsageError and changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from protocol.errors import ProtocolError

from .app import NODE_KEY
from .errors import NodeError, NotRunning, UsageError
from .service import Draft, parse_alert_id

if TYPE_CHECKING:
    from .app import Node

log = logging.getLogger(__name__)

Handler = Callable[["Node", dict[str, Any]], Awaitable[dict[str, Any]]]
COMMANDS: dict[str, Handler] = {}
MAX_REQUEST_BYTES = 1024 * 1024
CLIENT_TIMEOUT_S = 120
# Whole-number arguments beyond this are refused before they reach SQLite (64-bit).
MAX_INT_ARG = 2**53
MAX_INVITE_DAYS = 365


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn

    return register


def _str(args: dict[str, Any], key: str, default: str | None = None) -> str:
    value = args.get(key, default)
    if not isinstance(value, str):
        raise UsageError(f"{key} is required")
    return value


def _int(args: dict[str, Any], key: str, default: int | None = None) -> int | None:
    value = args.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{key} must be a whole number")
    if abs(value) > MAX_INT_ARG:
        raise UsageError(f"{key} is out of range")
    return value


def _check_utf8(args: dict[str, Any]) -> None:
    """JSON can carry lone surrogates ("\\ud800"), which no UTF-8 store or encoder takes."""
    try:
        json.dumps(args, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise UsageError("the request holds text that is not valid Unicode") from None


@command("status")
async def _status(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    return await node.status()


@command("unlock")
async def _unlock(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    await node.unlock(_str(args, "passphrase"))
    return {"locked": node.locked}


@command("alert.publish")
async def _publish(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    service = node.unlocked().alerts
    indicators = args.get("indicators", [])
    if not isinstance(indicators, list) or not all(
        isinstance(i, list) and len(i) == 2 and all(isinstance(x, str) for x in i)
        for i in indicators
    ):
        raise UsageError("indicators must be a list of [kind, value] pairs")
    categories = args.get("categories")
    if not isinstance(categories, list) or not categories:
        raise UsageError("give at least one --category")
    danger = _int(args, "danger")
    if danger not in (1, 2, 3):
        raise UsageError("--danger is 1 (nuisance), 2 (risky) or 3 (dangerous)")
    supersedes = args.get("supersedes")
    draft = Draft(
        categories=[str(c) for c in categories],
        danger=danger,
        region=_str(args, "region"),
        indicators=[(k, v) for k, v in indicators],
        description=_str(args, "description", ""),
        lang=_str(args, "lang", "en"),
        hops=_int(args, "hops"),
        tlp=_str(args, "tlp", "GREEN").upper(),
        expires_days=_int(args, "expires_days"),
        incident=args.get("incident"),
        supersedes=parse_alert_id(supersedes) if isinstance(supersedes, str) else None,
    )
    alert_id = await service.publish(draft)
    return {"id": alert_id.hex()}


@command("alert.list")
async def _list(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    service = node.unlocked().alerts
    region = args.get("region")
    limit = _int(args, "limit")
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    return {
        "alerts": await service.list(
            region=region if isinstance(region, str) else None, limit=limit or -1
        )
    }


@command("alert.retract")
async def _retract(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    service = node.unlocked().alerts
    alert_id = parse_alert_id(_str(args, "id"))
    retraction = await service.retract(alert_id, _str(args, "reason", "other"))
    return {"id": alert_id.hex(), "retraction": retraction.hex()}


@command("check")
async def _check(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    service = node.unlocked().alerts
    return await service.check(_str(args, "kind"), _str(args, "value"))


@command("invite.create")
async def _invite(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    unlocked = node.unlocked()
    store, settings = unlocked.store, unlocked.settings
    role = _str(args, "role", "member")
    now = node.clock.now()
    days = _int(args, "days") or settings["invite_expiry_days"]
    if not 1 <= days <= MAX_INVITE_DAYS:
        raise UsageError(f"an invite is valid for 1 to {MAX_INVITE_DAYS} days")
    code = await store.members.create_invite(role, now + days * 86400, now)
    return {"code": code, "role": role, "expires": now + days * 86400}


@command("stop")
async def _stop(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    node.stopped.set()
    return {"stopping": True}


async def _dispatch(request: web.Request) -> web.Response:
    node: Node = request.app[NODE_KEY]
    handler = COMMANDS.get(request.match_info["name"])
    if handler is None:
        return web.json_response({"error": "unknown command"}, status=404)
    try:
        args = await request.json(loads=json.loads) if request.can_read_body else {}
        if not isinstance(args, dict):
            raise UsageError("the request must be a JSON object")
        _check_utf8(args)
        result = await handler(node, args)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return web.json_response({"error": "the request is not JSON"}, status=400)
    except NodeError as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    except ProtocolError as exc:
        return web.json_response({"error": exc.message}, status=400)
    except Exception:
        log.exception("control command %s failed", request.match_info["name"])
        return web.json_response(
            {"error": "the node hit an internal error; see its log"}, status=500
        )
    return web.json_response(result)


def control_app(node: Node) -> web.Application:
    from . import control_federation, control_ops, control_pairing  # noqa: F401  (register)

    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[NODE_KEY] = node
    app.router.add_post("/v1/{name}", _dispatch)
    return app


async def call(data_dir: Path, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Send one command to the node running on ``data_dir``.

    Raises NotRunning, or NodeError with the node's own sentence.
    """
    sock = data_dir / "control.sock"
    if not sock.exists():
        raise NotRunning(f"no node is running on {data_dir}; start it with 'alertnode run'")
    connector = aiohttp.UnixConnector(path=str(sock))
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            session.post(f"http://alertnode/v1/{name}", json=args or {}) as resp,
        ):
            body = await resp.json()
    except (aiohttp.ClientConnectionError, FileNotFoundError, ConnectionRefusedError):
        raise NotRunning(
            f"no node is running on {data_dir}; start it with 'alertnode run'"
        ) from None
    except aiohttp.ContentTypeError:
        raise NotRunning("the control socket answered with something unexpected") from None
    if resp.status >= 300:
        error = NodeError(str(body.get("error", "the node refused the command")))
        error.exit_code = 2 if resp.status == 400 else 1
        raise error
    return body  # type: ignore[no-any-return]
