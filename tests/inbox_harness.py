"""Test helpers for the inbox: the real HTTP app (``/mcp`` + webhook) on a loopback port, payloads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from mcp import Client
from mcp.server.mcpserver import MCPServer
from pydantic import SecretStr

from outperform_mcp.server.app import build_server
from outperform_mcp.server.deps import Deps
from outperform_mcp.server.http import build_http_app
from outperform_mcp.server.runtime import extra_routes, open_deps
from outperform_mcp.settings import InboxSettings, Settings

from .loopback import CA
from .support import api_settings, call, eventually, serving

__all__ = ["eventually"]  # re-exported: inbox tests import it from here

SECRET = "test-webhook-secret-0123456789"
DANIEL_PHONE = "60129928376"
MALLORY_PHONE = "60198765432"


@dataclass
class Running:
    server: MCPServer
    deps: Deps
    root: str

    @property
    def webhook(self) -> str:
        return f"{self.root}/webhooks/outperform/{SECRET}"

    @property
    def mcp_url(self) -> str:
        return f"{self.root}/mcp"


@asynccontextmanager
async def inbox_server(
    emulator: Any, data_dir: Path, *, secret: str | None = SECRET, **inbox: Any
) -> AsyncIterator[Running]:
    """MCP server + webhook receiver served by uvicorn on 127.0.0.1, over real Deps and the emulator."""
    settings = InboxSettings(webhook_secret=SecretStr(secret) if secret else None, **inbox)
    async with open_deps(Settings(api=api_settings(emulator, data_dir), inbox=settings)) as deps:
        server = build_server(deps)
        app = build_http_app(server, host="127.0.0.1", port=0, extra_routes=extra_routes(deps))
        async with serving(app) as root:
            yield Running(server, deps, root)


async def point_emulator(emulator: Any, running: Running) -> None:
    """Make the emulator deliver /_sandbox/inbound to this server (secret in the header)."""
    async with httpx.AsyncClient(verify=CA) as http:
        response = await http.post(
            f"{emulator.root_url}/_sandbox/config",
            json={"webhook_url": f"{running.root}/webhooks/outperform", "webhook_secret": SECRET},
        )
        response.raise_for_status()


async def inbound(emulator: Any, **params: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(verify=CA, timeout=15) as http:
        response = await http.post(f"{emulator.root_url}/_sandbox/inbound", json=params)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def payload(text: str, *, phone: str = DANIEL_PHONE, at: datetime | None = None, **data: Any) -> dict[str, Any]:
    stamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "event": "whatsapp_message_received",
        "timestamp": stamp,
        "data": {
            "contact": phone,
            "name": data.pop("name", "Someone"),
            "direction": data.pop("direction", "inbound"),
            "message": data.pop("message", {"type": "text", "text": text}),
            **data,
        },
    }


async def token_of(client: Client, name: str) -> str:
    found = await call(client, "search_contacts", {"search": name})
    token: str = found["items"][0]["token"]
    return token
