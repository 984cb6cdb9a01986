"""Every private attribute of the ``mcp`` SDK this server reaches into, in one place.

Each use has a test in tests/test_sdk_private.py, so an ``mcp`` upgrade that moves one fails there
first. Everything here is read defensively: a missing attribute degrades one feature, never a call.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from contextvars import ContextVar
from typing import Any

import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)

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


# -- Streamable HTTP sessions, bounded per client ---------------------------------------------
# One token holder opening handshake-era session after session evicts its own oldest ones instead
# of filling the server (memory) and locking every other client out until the SDK's idle timeout
# frees a slot. A client is its bearer identity plus its network address. Hooks the session
# manager's ``handle_request`` (to learn the address) and ``_admit_session`` (to count); tested by
# tests/test_sessions.py.

_peer: ContextVar[str] = ContextVar("outperform_peer", default="unknown")


def cap_sessions_per_client(manager: StreamableHTTPSessionManager, per_client: int) -> None:
    owned: dict[str, OrderedDict[str, None]] = {}
    handle_request = manager.handle_request
    admit_session = manager._admit_session

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        token = _peer.set(str(client[0]) if client else "unknown")
        try:
            await handle_request(scope, receive, send)
        finally:
            _peer.reset(token)

    def admit(requestor: Any) -> Any:
        who = f"{getattr(requestor, 'client_id', None) or 'anonymous'}@{_peer.get()}"
        live = manager._server_instances
        mine = owned.setdefault(who, OrderedDict())
        for gone in [sid for sid in mine if sid not in live]:
            del mine[gone]
        while len(mine) >= per_client:
            oldest, _ = mine.popitem(last=False)
            transport = live.get(oldest)
            if transport is not None and manager._task_group is not None:
                log.warning("client %s opened more than %d sessions: closing its oldest", who, per_client)
                # Forgotten at once (the id answers 404 from now), terminated in the background.
                manager._task_group.start_soon(manager._discard_session, oldest, transport)
                live.pop(oldest, None)
        for empty in [key for key, sids in owned.items() if not sids and key != who]:
            del owned[empty]
        transport = admit_session(requestor)
        if transport is not None and transport.mcp_session_id is not None:
            mine[transport.mcp_session_id] = None
        return transport

    manager.handle_request = handle  # type: ignore[method-assign]
    manager._admit_session = admit  # type: ignore[method-assign]
