"""Test helpers shared by the server-level tests: Deps and an MCP server wired to the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from pydantic import SecretStr

from outperform_mcp.api.settings import ApiSettings
from outperform_mcp.server.app import Selection, build_server
from outperform_mcp.server.deps import Deps
from outperform_mcp.server.runtime import open_deps
from outperform_mcp.server.settings import ServerSettings


def api_settings(emulator: Any, data_dir: Path, **overrides: Any) -> ApiSettings:
    """API settings pointing at a running emulator fixture (see conftest ``emulator``)."""
    values: dict[str, Any] = {
        "base_url": emulator.base_url,
        "client_id": emulator.client_id,
        "client_secret": SecretStr(emulator.client_secret),
        "instance_id": "test-instance",
        "data_dir": data_dir,
        "retry_max_seconds": 3.0,
        "persist_refresh_token": False,
    }
    values.update(overrides)
    return ApiSettings.model_validate(values)


@asynccontextmanager
async def server_for(
    emulator: Any,
    data_dir: Path,
    *,
    selection: Selection | None = None,
    server_settings: ServerSettings | None = None,
    **api_overrides: Any,
) -> AsyncIterator[tuple[MCPServer, Deps]]:
    """An MCPServer over real Deps (API client on loopback HTTP, SQLite store in ``data_dir``)."""
    settings = api_settings(emulator, data_dir, **api_overrides)
    async with open_deps(settings, server_settings or ServerSettings()) as deps:
        yield build_server(deps, selection or Selection()), deps


@asynccontextmanager
async def offline_deps(data_dir: Path) -> AsyncIterator[Deps]:
    """Deps whose API points at a closed port: building and listing must never touch the network."""
    settings = ApiSettings.model_validate(
        {
            "base_url": "http://127.0.0.1:9/cloud/conversationapis/v1/",
            "client_id": "offline",
            "client_secret": SecretStr("offline-secret"),
            "data_dir": data_dir,
            "persist_refresh_token": False,
        }
    )
    async with open_deps(settings, ServerSettings()) as deps:
        yield deps
