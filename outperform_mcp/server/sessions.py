"""Handshake-era HTTP sessions, bounded per client: one token holder opening session after
session evicts its own oldest ones instead of filling the server (memory) and locking every other
client out until the SDK's idle timeout frees a slot.

A client is its bearer identity plus its network address. This hooks two private methods of the
SDK's session manager (``handle_request`` to learn the address, ``_admit_session`` to count);
tests/test_sessions.py fails if an SDK upgrade changes them.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from contextvars import ContextVar
from typing import Any

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)

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
