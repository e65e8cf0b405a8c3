"""The control socket's server side, generated from the command table.

Rule: the socket is a Unix socket in the data directory with mode 0600, so only the
node's own user can use it. Each command is ``POST /v1/<name>`` with a JSON object
and answers a JSON object, or ``{"error": sentence}`` with a non-2xx status. Every
row with a handler is a route and nothing else is; a command that needs an unlocked
node says "locked" before it reads its arguments, then every argument is checked
(``parse_args``) before the handler runs, so a bad one changes nothing.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from aiohttp import web

from protocol.errors import ProtocolError

from ..errors import NodeError, UsageError
from .rows import ROWS
from .table import Command, Result, parse_args

if TYPE_CHECKING:
    from ..app import Node

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1024 * 1024
ROUTES: Mapping[str, Command] = MappingProxyType({c.name: c for c in ROWS if c.handler})
CONTROL_NODE: web.AppKey[Node] = web.AppKey("control-node")


async def execute(command: Command, node: Node, raw: Mapping[str, object]) -> Result:
    """Run one row's handler on ``raw`` JSON arguments.

    Raises Locked (when the row needs an unlocked node), UsageError for a bad
    argument, or whatever the handler raises.
    """
    assert command.handler is not None
    if command.unlocked:
        node.unlocked()
    return await command.handler(node, parse_args(command, raw))


# The routes as plain callables, for the web admin page and tests that run a command
# in-process: COMMANDS["peer.remove"](node, {"peer": "B"}).
COMMANDS: Mapping[str, Callable[[Node, Mapping[str, object]], Awaitable[Result]]] = (
    MappingProxyType({name: functools.partial(execute, c) for name, c in ROUTES.items()})
)


async def _dispatch(request: web.Request) -> web.Response:
    node = request.app[CONTROL_NODE]
    name = request.match_info["name"]
    command = ROUTES.get(name)
    if command is None:
        return web.json_response({"error": "unknown command"}, status=404)
    try:
        args: Any = await request.json(loads=json.loads) if request.can_read_body else {}
        if not isinstance(args, dict):
            raise UsageError("the request must be a JSON object")
        result = await execute(command, node, args)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return web.json_response({"error": "the request is not JSON"}, status=400)
    except NodeError as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    except ProtocolError as exc:
        status = exc.status if 400 <= exc.status < 500 else 400
        return web.json_response({"error": exc.message}, status=status)
    except Exception:
        log.exception("control command %s failed", name)
        return web.json_response(
            {"error": "the node hit an internal error; see its log"}, status=500
        )
    return web.json_response(result)


def control_app(node: Node) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[CONTROL_NODE] = node
    app.router.add_post("/v1/{name}", _dispatch)
    return app
