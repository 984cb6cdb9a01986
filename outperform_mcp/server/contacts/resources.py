"""Contacts resources: the labels and one contact (JSON)."""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from ..deps import Deps
from ..registry import resource
from ..views import ContactOut


@resource("contacts", "outperform://labels", name="labels", title="Contact labels")
async def labels(deps: Deps) -> list[dict[str, object]]:
    return [{"name": label.name, "contacts": label.contacts} for label in await deps.api.list_labels()]


@resource("contacts", "outperform://contacts/{token}", name="contact", title="A contact")
async def contact(deps: Deps, token: str) -> dict[str, object]:
    found = await deps.api.get_contact(token)
    if found is None:
        raise ResourceNotFoundError(f"no contact with token {token}")
    return ContactOut.of(found).model_dump(mode="json")
