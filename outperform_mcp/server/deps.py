"""What tools need at run time, built once per server run and reached through the MCP context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.subscriptions import InMemorySubscriptionBus

from ..api.client import OutPerformClient
from ..guard.service import SendService
from ..inbox import InboxService
from ..mirror.sync import Mirror
from ..settings import ServerSettings
from ..store.db import Store
from .push import HandshakeSubscriptions


@dataclass
class Deps:
    api: OutPerformClient
    store: Store
    # The sending guard (approvals, policy, journal).
    guard: SendService
    # Inbound messages (webhook intake, waiting, listing).
    inbox: InboxService
    # Resource-change events for listening clients; inbox changes are published on it.
    bus: InMemorySubscriptionBus
    # The same events for handshake-era clients that subscribed per URI.
    push: HandshakeSubscriptions
    settings: ServerSettings
    # The local mirror of the account (insights and sql toolsets); synced in the background once used.
    mirror: Mirror
    # Where people reach this server's own pages (set once the listener is bound).
    public_url: str | None = None
    # Keys sealing 2026-07-28 retry state; empty: a key of this process (see server.app).
    request_state_keys: tuple[bytes, ...] = ()


Ctx = Context[Deps, Any]


def deps(ctx: Ctx) -> Deps:
    state = ctx.request_context.lifespan_context
    if not isinstance(state, Deps):  # pragma: no cover - a wiring bug, not a user error
        raise ToolError("server is not initialised")
    return state
