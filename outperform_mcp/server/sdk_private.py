"""Every private attribute of the ``mcp`` SDK this server reaches into, in one place.

Each use has a test in tests/test_sdk_private.py, so an ``mcp`` upgrade that moves one fails there
first. Everything here is read defensively: a missing attribute degrades one feature, never a call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession

SubscribeHandler = Callable[[ServerSession, str], None]


def _connection(session: ServerSession) -> Any:
    # ServerSession keeps the transport connection it serves in ``_connection``.
    return getattr(session, "_connection", None)


def transport_session_id(session: ServerSession) -> str | None:
    """The transport's own session id (Streamable HTTP), validated by it; None over stdio."""
    value = getattr(_connection(session), "session_id", None)
    return value if isinstance(value, str) and value else None


def connection_key(session: ServerSession) -> tuple[int, AsyncExitStack | None]:
    """A key for the connection behind ``session`` (stable across its requests) and the exit stack
    that closes with it (``Connection.exit_stack``; ``ServerSession`` does not expose it)."""
    connection = _connection(session)
    stack = getattr(connection, "exit_stack", None)
    if connection is None or not isinstance(stack, AsyncExitStack):
        return id(session), None
    return id(connection), stack


def serve_resource_subscribe(server: MCPServer, subscribe: SubscribeHandler, unsubscribe: SubscribeHandler) -> None:
    """Serve handshake-era ``resources/subscribe`` and ``resources/unsubscribe``.

    ``MCPServer`` has no hook for them; its low-level server (``_lowlevel_server``) takes the
    handlers and then advertises ``resources.subscribe`` to handshake clients.
    """

    def handler(
        fn: SubscribeHandler,
    ) -> Callable[[ServerRequestContext[Any, Any], Any], Awaitable[types.EmptyResult]]:
        async def handle(ctx: ServerRequestContext[Any, Any], params: Any) -> types.EmptyResult:
            fn(ctx.session, str(params.uri))
            return types.EmptyResult()

        return handle

    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler("resources/subscribe", types.SubscribeRequestParams, handler(subscribe))
    lowlevel.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, handler(unsubscribe))
