"""Read-only resources: labels, a contact, a contact's conversation (JSON)."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from ..api.errors import OutPerformError
from ..guard.lookup import window_for
from .deps import Deps
from .views import ContactOut, MessageOut, SessionWindow


def register_resources(server: MCPServer, deps: Deps) -> None:
    api = deps.api

    @server.resource("outperform://labels", name="labels", title="Contact labels", mime_type="application/json")
    async def labels() -> list[dict[str, object]]:
        try:
            return [{"name": label.name, "contacts": label.contacts} for label in await api.list_labels()]
        except OutPerformError as exc:
            raise ResourceError(str(exc)) from None

    @server.resource("outperform://contacts/{token}", name="contact", title="A contact", mime_type="application/json")
    async def contact(token: str) -> dict[str, object]:
        try:
            found = await api.get_contact(token)
        except OutPerformError as exc:
            raise ResourceError(str(exc)) from None
        if found is None:
            raise ResourceNotFoundError(f"no contact with token {token}")
        return ContactOut.of(found).model_dump(mode="json")

    @server.resource(
        "outperform://contacts/{token}/conversation",
        name="conversation",
        title="A contact's WhatsApp conversation (latest 100 messages)",
        mime_type="application/json",
    )
    async def conversation(token: str) -> dict[str, object]:
        try:
            threads = await api.list_conversations(prospect_token=token, limit=1)
        except OutPerformError as exc:
            raise ResourceError(str(exc)) from None
        conv = next((c for c in threads if c.token == token), None)
        if conv is None:
            raise ResourceNotFoundError(f"no conversation with contact {token}")
        window = await window_for(deps.store, token=token, phone=conv.phone, api_last_inbound=conv.last_inbound_at)
        return {
            "token": conv.token,
            "name": conv.name,
            "window": SessionWindow.of(window).model_dump(mode="json"),
            "messages": [MessageOut.of(m).model_dump(mode="json") for m in conv.messages[-100:]],
        }
