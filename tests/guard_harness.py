"""Helpers for the sending-guard tests: a server with chosen guard settings, the emulator's sent log,
elicitation callbacks that play the human, and the approval page served over real HTTP."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp.types as types
from mcp.client.session import ClientRequestContext
from mcp.server.mcpserver import MCPServer

from outperform_mcp.guard.model import now_utc
from outperform_mcp.guard.service import SendService
from outperform_mcp.sandbox.templates import TEMPLATES_PATH
from outperform_mcp.server.app import build_server
from outperform_mcp.server.deps import Deps
from outperform_mcp.server.http import build_http_app
from outperform_mcp.server.runtime import extra_routes, open_deps
from outperform_mcp.settings import GuardSettings, ServerSettings, Settings, StoreSettings

from .loopback import CA
from .support import Clock, api_settings, control, free_port, serving

MODES = ["auto", "legacy"]  # 2026-07-28 (input-required retries) and the handshake era

ElicitCallback = Callable[[ClientRequestContext, types.ElicitRequestParams], Awaitable[types.ElicitResult]]


def guard_settings(**overrides: Any) -> GuardSettings:
    values: dict[str, Any] = {"templates_file": TEMPLATES_PATH, "elicitation_timeout": 5.0}
    values.update(overrides)
    return GuardSettings.model_validate(values)


@asynccontextmanager
async def guarded(
    emulator: Any,
    data_dir: Path,
    *,
    server_settings: ServerSettings | None = None,
    clock: Callable[[], datetime] = now_utc,
    api: dict[str, Any] | None = None,
    database_url: str | None = None,
    **guard: Any,
) -> AsyncIterator[tuple[MCPServer, Deps]]:
    """An MCPServer over real Deps whose send service uses ``guard`` settings and ``clock``
    (``api``: API setting overrides; ``database_url``: state on PostgreSQL instead of SQLite in ``data_dir``)."""
    reset(emulator)
    settings = Settings(
        api=api_settings(emulator, data_dir, **(api or {})),
        server=server_settings or ServerSettings(),
        store=StoreSettings(database_url=database_url),
    )
    async with open_deps(settings) as deps:
        assert deps.api is not None
        deps.guard = SendService(deps.api, deps.store, guard_settings(**guard), clock=clock)
        await deps.guard.start()
        yield build_server(deps), deps


# -- the emulator --------------------------------------------------------------------------------


def reset(emulator: Any) -> None:
    control(emulator, "POST", "reset")


def sent(emulator: Any) -> list[dict[str, Any]]:
    """What the emulated WhatsApp account really sent: the ground truth of every test here."""
    return list(control(emulator, "GET", "sent")["data"])


@dataclass(frozen=True)
class People:
    daniel: str  # window open
    aisha: str  # window closed
    mallory: str  # her last message is a prompt injection
    kevin: str  # the number named in it
    farid: str  # wrote STOP, label opt-out
    grace: str  # wrote "please unsubscribe me", label opt-out


def people(emulator: Any) -> People:
    s = emulator.emulator.state.sample()
    return People(
        daniel=s.window_open.prospect_token,
        aisha=s.window_closed.prospect_token,
        mallory=s.injection.prospect_token,
        kevin=s.injection_target.prospect_token,
        farid=s.stop.prospect_token,
        grace=s.unsubscribe.prospect_token,
    )


# -- MCP calls -------------------------------------------------------------------------------


class Human:
    """Plays the person answering elicitation dialogs; remembers what they were shown.

    ``never_answers``: the dialog stays open until the client goes away. ``thinks``: seconds the
    answer takes, spent on the server's injected ``clock`` (see ``guarded``), not waited for.
    """

    def __init__(
        self,
        action: str = "accept",
        *,
        send: bool = True,
        never_answers: bool = False,
        thinks: tuple[Clock, float] | None = None,
    ) -> None:
        self.action = action
        self.send = send
        self.never_answers = never_answers
        self.thinks = thinks
        self.shown: list[str] = []

    async def __call__(self, context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.shown.append(getattr(params, "message", ""))
        if self.never_answers:
            await anyio.sleep_forever()
        if self.thinks is not None:
            clock, seconds = self.thinks
            clock.advance(seconds)
        if self.action == "accept":
            return types.ElicitResult(action="accept", content={"send": self.send})
        return types.ElicitResult(action=self.action)


# -- the approval page over real HTTP ------------------------------------------------------------


@asynccontextmanager
async def http_app(server: MCPServer, deps: Deps) -> AsyncIterator[str]:
    """Serve ``/mcp`` and the approval page on one loopback port; yields the base URL."""
    port = free_port()
    app = build_http_app(server, host="127.0.0.1", port=port, extra_routes=extra_routes(deps))
    deps.public_url = f"http://127.0.0.1:{port}"
    async with serving(app, port) as base:
        yield base


BROWSER = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-User": "?1"}


async def open_page(url: str) -> tuple[httpx.Response, str | None]:
    """GET the approval page as a browser would; returns the response and the form token on it."""
    async with httpx.AsyncClient(verify=CA) as http:
        page = await http.get(url)
    match = re.search(r'name="form_token" value="([0-9a-f]+)"', page.text)
    return page, match.group(1) if match else None


async def decide(url: str, decision: str, token: str, headers: dict[str, str] | None = None) -> httpx.Response:
    origin = "/".join(url.split("/")[:3])
    sent_headers = {**BROWSER, "Origin": origin} if headers is None else headers
    async with httpx.AsyncClient(verify=CA) as http:
        return await http.post(url, data={"decision": decision, "form_token": token}, headers=sent_headers)
