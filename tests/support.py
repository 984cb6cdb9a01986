"""Test helpers shared by the server-level tests: Deps and an MCP server wired to the emulator."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from mcp import Client
from mcp.server.mcpserver import MCPServer
from pydantic import SecretStr
from starlette.types import ASGIApp

from outperform_mcp.server.app import Selection, build_server
from outperform_mcp.server.deps import Deps
from outperform_mcp.server.runtime import bound_port, open_deps
from outperform_mcp.settings import (
    ApiSettings,
    GuardSettings,
    MirrorSettings,
    ServerSettings,
    Settings,
    StoreSettings,
)

from .loopback import LOOPBACK


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
    guard: GuardSettings | None = None,
    mirror: MirrorSettings | None = None,
    store: StoreSettings | None = None,
    **api_overrides: Any,
) -> AsyncIterator[tuple[MCPServer, Deps]]:
    """An MCPServer over real Deps (API client on loopback HTTP, SQLite store in ``data_dir`` unless
    ``store`` names a database)."""
    settings = Settings(
        api=api_settings(emulator, data_dir, **api_overrides),
        server=server_settings or ServerSettings(),
        guard=guard or GuardSettings(),
        mirror=mirror or MirrorSettings(),
        store=store or StoreSettings(),
    )
    async with open_deps(settings) as deps:
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
    async with open_deps(Settings(api=settings)) as deps:
        yield deps


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serving(app: ASGIApp, port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (``port`` 0: any free one) until the block ends;
    yields its base URL. Start-up is bounded, so a server that cannot start fails the test."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
    web = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(web.serve)
        with anyio.fail_after(10):
            while not web.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await anyio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{bound_port(web)}"
        finally:
            web.should_exit = True


def server_env(emulator: Any, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a server subprocess talking to the emulator (secrets by environment, never argv)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(data_dir),
        "OUTPERFORM_BASE_URL": emulator.base_url,
        "OUTPERFORM_CLIENT_ID": emulator.client_id,
        "OUTPERFORM_CLIENT_SECRET": emulator.client_secret,
        "OUTPERFORM_INSTANCE_ID": "test-instance",
        "OUTPERFORM_DATA_DIR": str(data_dir),
        "OUTPERFORM_PERSIST_REFRESH_TOKEN": "false",
        **extra,
    }


def control(emulator: Any, method: str, path: str, body: Any = None) -> Any:
    """Call the emulator's /_sandbox/ controls."""
    response = LOOPBACK.request(method, f"{emulator.root_url}/_sandbox/{path}", json=body)
    response.raise_for_status()
    return response.json()


async def call(client: Client, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call a tool that must succeed; its structured content."""
    result = await client.call_tool(name, args or {})
    assert result.is_error is False, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


async def error_text(client: Client, name: str, args: dict[str, Any]) -> str:
    """Call a tool that must fail; the error text the model sees."""
    result = await client.call_tool(name, args)
    assert result.is_error is True, result.structured_content
    return " ".join(getattr(block, "text", "") for block in result.content)


async def eventually(condition: Callable[[], object], seconds: float = 5.0) -> None:
    """Wait until ``condition()`` is truthy (for state that offers no event to wait on)."""
    with anyio.fail_after(seconds):
        while not condition():  # noqa: ASYNC110 - polling state owned by other code
            await anyio.sleep(0.01)


class Clock:
    """A wall clock that moves only when told (for SendService): expiry tests never wait for real."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Monotonic:
    """A monotonic clock that moves only when told (for TokenManager)."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
