"""Each private attribute of the ``mcp`` SDK that ``server/sdk_private.py`` reaches into still works.

When an ``mcp`` upgrade moves one of them, the test named for it fails here (not a feature later).
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.session import ServerSession

from outperform_mcp.server.http import build_http_app
from outperform_mcp.server.sdk_private import connection_key, serve_resource_subscribe, transport_session_id

from .support import serving

pytestmark = pytest.mark.anyio


def probe_server(seen: list[tuple[str, str]]) -> MCPServer:
    server = MCPServer("probe")

    @server.tool()
    async def probe(ctx: Context[Any, Any]) -> dict[str, Any]:
        key, stack = connection_key(ctx.session)
        return {
            "session_id": transport_session_id(ctx.session),
            "key": key,
            "per_connection": key != id(ctx.session),
            "exit_stack": isinstance(stack, AsyncExitStack),
        }

    def subscribe(session: ServerSession, uri: str) -> None:
        seen.append(("subscribe", uri))

    def unsubscribe(session: ServerSession, uri: str) -> None:
        seen.append(("unsubscribe", uri))

    serve_resource_subscribe(server, subscribe, unsubscribe)
    return server


@asynccontextmanager
async def over_http(server: MCPServer) -> AsyncIterator[str]:
    async with serving(build_http_app(server, host="127.0.0.1", port=0)) as root:
        yield f"{root}/mcp"


async def probe(client: Client) -> dict[str, Any]:
    result = await client.call_tool("probe", {})
    assert result.structured_content is not None
    return result.structured_content


async def test_connection_and_its_exit_stack_are_found_in_process() -> None:
    # Handshake era: one connection serves every request (the only era push.py serves).
    async with Client(probe_server([]), mode="legacy") as client:
        first, second = await probe(client), await probe(client)
    assert first["per_connection"]
    assert first["exit_stack"]
    assert first["key"] == second["key"]  # stable across the connection's requests
    assert first["session_id"] is None  # no transport session in process (as over stdio)


async def test_transport_session_id_over_streamable_http() -> None:
    # Stateful (handshake-era) HTTP sessions carry an id; approvals are bound to it.

    async with over_http(probe_server([])) as url:
        async with Client(url, mode="legacy") as one:
            a = await probe(one)
        async with Client(url, mode="legacy") as two:
            b = await probe(two)
    assert a["session_id"]
    assert b["session_id"]
    assert a["session_id"] != b["session_id"]


async def test_resource_subscribe_is_served_through_the_lowlevel_server() -> None:
    seen: list[tuple[str, str]] = []
    async with Client(probe_server(seen), mode="legacy") as client:
        caps = client.server_capabilities.resources
        assert caps is not None
        assert caps.subscribe is True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            await client.subscribe_resource("outperform://inbox")
            await client.unsubscribe_resource("outperform://inbox")
    assert seen == [("subscribe", "outperform://inbox"), ("unsubscribe", "outperform://inbox")]
