"""Handshake-era HTTP sessions are capped per client: a token holder opening session after session
evicts its own oldest ones, so the server's memory stays bounded and other clients still get in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from outperform_mcp.server.http import build_http_app

from .loopback import CA
from .support import free_port, server_for, serving

pytestmark = pytest.mark.anyio

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "flood", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def test_one_client_cannot_fill_the_session_table(emulator: Any, tmp_path: Path) -> None:
    async with server_for(emulator, tmp_path) as (server, _):
        port = free_port()
        app = build_http_app(server, host="127.0.0.1", port=port, sessions_per_client=3)
        async with serving(app, port) as root:
            url = f"{root}/mcp"
            ids = []
            async with httpx.AsyncClient(verify=CA) as http:
                for _ in range(12):  # opened and never closed
                    answer = await http.post(url, json=INIT, headers=HEADERS)
                    assert answer.status_code == 200
                    ids.append(answer.headers["mcp-session-id"])
                assert len(server.session_manager._server_instances) <= 3
                old = await http.post(
                    url,
                    json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                    headers={**HEADERS, "mcp-session-id": ids[0], "mcp-protocol-version": "2025-11-25"},
                )
                assert old.status_code == 404  # the flooder lost its oldest session, nobody else did
            async with Client(streamable_http_client(url), mode="legacy") as c:
                assert (await c.list_tools()).tools
