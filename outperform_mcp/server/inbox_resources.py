"""Inbox resources (``outperform://inbox``, ``outperform://inbox/{token}``) and their subscriptions.

2026-07-28 clients get change notifications through ``subscriptions/listen`` (the SDK serves it
from ``deps.bus``, where the inbox publishes). Handshake-era clients get them through
``resources/subscribe``, served here on the low-level server (see ``push.py`` for the limits).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from ..api.errors import OutPerformError
from ..store import inbox as events
from .deps import Deps
from .inbox import INBOX_URI
from .tools.inbox import receiver_status, view
from .views import UNTRUSTED_NOTE

RECENT = 20
PER_CONTACT = 50


def register_inbox_resources(server: MCPServer, deps: Deps) -> None:
    inbox = deps.inbox

    @server.resource(
        INBOX_URI,
        name="inbox",
        title="Inbound WhatsApp messages: unread count and the latest unread",
        mime_type="application/json",
    )
    async def inbox_resource() -> dict[str, Any]:
        def read(conn: sqlite3.Connection) -> tuple[list[events.Event], int, int, int]:
            recent = events.list_events(conn, unread_only=True, limit=RECENT, newest_first=True)
            return recent, events.count(conn, unread_only=True), events.count(conn), events.latest_id(conn)

        recent, unread, total, cursor = await inbox.store.run(read)
        return {
            "unread": unread,
            "stored": total,
            "cursor": cursor,
            "latest_unread": [view(e).model_dump(mode="json") for e in reversed(recent)],
            "receiver": {"status": receiver_status(inbox), "counts": inbox.stats.as_dict()},
            "note": UNTRUSTED_NOTE,
        }

    @server.resource(
        f"{INBOX_URI}/{{token}}",
        name="contact_inbox",
        title="One contact's inbound WhatsApp messages (latest 50)",
        mime_type="application/json",
    )
    async def contact_inbox(token: str) -> dict[str, Any]:
        try:
            phone = await inbox.phone_for_token(token)
        except OutPerformError as exc:
            raise ResourceError(str(exc)) from None
        if phone is None:
            raise ResourceNotFoundError(f"no contact with token {token}")

        def read(conn: sqlite3.Connection) -> tuple[list[events.Event], int]:
            latest = events.list_events(conn, phone=phone, limit=PER_CONTACT, newest_first=True)
            return latest, events.count(conn, phone=phone, unread_only=True)

        latest, unread = await inbox.store.run(read)
        return {
            "token": token,
            "unread": unread,
            "messages": [view(e).model_dump(mode="json") for e in reversed(latest)],
            "note": UNTRUSTED_NOTE,
        }

    async def subscribe(ctx: ServerRequestContext[Any, Any], params: types.SubscribeRequestParams) -> types.EmptyResult:
        inbox.push.subscribe(ctx.session, str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(
        ctx: ServerRequestContext[Any, Any], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        inbox.push.unsubscribe(ctx.session, str(params.uri))
        return types.EmptyResult()

    # MCPServer exposes no hook for these handshake-era methods; the low-level server takes them and
    # then advertises resources.subscribe to handshake clients (2026-07-28 clients use listen instead).
    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler("resources/subscribe", types.SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, unsubscribe)
