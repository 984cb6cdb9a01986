"""Conversations resources: one contact's WhatsApp thread (JSON)."""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from ...guard.lookup import window_for
from ..deps import Deps
from ..registry import resource
from ..views import SessionWindow, ThreadMessage


@resource(
    "conversations",
    "outperform://contacts/{token}/conversation",
    name="conversation",
    title="A contact's WhatsApp conversation (latest 100 messages)",
)
async def conversation(deps: Deps, token: str) -> dict[str, object]:
    threads = await deps.api.list_conversations(prospect_token=token, limit=1)
    conv = next((c for c in threads if c.token == token), None)
    if conv is None:
        raise ResourceNotFoundError(f"no conversation with contact {token}")
    window = await window_for(
        deps.store,
        token=token,
        phone=conv.phone,
        api_last_inbound=conv.last_inbound_at,
        country=deps.api.settings.default_country,
    )
    return {
        "token": conv.token,
        "name": conv.name,
        "window": SessionWindow.of(window).model_dump(mode="json"),
        "messages": [ThreadMessage.of(m).model_dump(mode="json") for m in conv.messages[-100:]],
    }
