"""Approvals from any replica: two server instances on one PostgreSQL schema (in-process, each with
its own HTTP listener). The send is prepared on A, the human opens the link on B, and racing
approvals posted to both send once; a 2026-07-28 retry carrying the human's answer to a question
A asked is served by B."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp.types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from outperform_mcp.settings import ServerSettings

from .guard_harness import Human, decide, guarded, http_app, open_page, people, sent
from .loopback import CA2
from .pg import fresh_schema
from .support import call

pytestmark = pytest.mark.anyio
TOKEN = "shared-replica-token-0123456789abcdef"


async def test_a_link_made_on_one_replica_is_approved_on_another_and_sends_once(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    with fresh_schema() as url:
        async with (
            guarded(emulator, tmp_path / "a", database_url=url) as (server_a, deps_a),
            guarded(emulator, tmp_path / "b", database_url=url) as (server_b, deps_b),
            http_app(server_a, deps_a) as base_a,
            http_app(server_b, deps_b) as base_b,
            Client(f"{base_a}/mcp") as c,
        ):
            # 2026-07-28 retries carry state sealed by one replica and opened by any other.
            assert deps_a.request_state_keys == deps_b.request_state_keys
            assert len(deps_a.request_state_keys[0]) == 32
            out = await call(c, "send_message", {"token": p.daniel, "text": "Approved elsewhere"})
            assert out["status"] == "pending_approval"
            on_b = out["approval_url"].replace(base_a, base_b)
            page, token = await open_page(on_b)
            assert page.status_code == 200
            assert token is not None
            answers: list[int] = []

            async def approve(where: str) -> None:
                answers.append((await decide(where, "approve", token)).status_code)

            async with anyio.create_task_group() as tg:
                for i in range(10):
                    tg.start_soon(approve, on_b if i % 2 else out["approval_url"])
            status = await call(c, "list_sends", {"approval_id": out["approval_id"]})
    assert [i["status"] for i in status["items"]] == ["sent"]
    assert 200 in answers
    assert [r["text"] for r in sent(emulator)] == ["Approved elsewhere"]


async def test_a_2026_07_28_retry_sealed_on_one_replica_is_answered_by_another_and_sends_once(
    emulator: Any, tmp_path: Path
) -> None:
    """The tool asks the human on replica A (an input-required result with sealed request state);
    the client's retry with the answer lands on replica B, which opens that state with the shared
    key and sends. Approvals are bound to the bearer client, so both replicas share
    OUTPERFORM_MCP_TOKEN, as the README's recipe says."""
    p = people(emulator)
    srv = ServerSettings.model_validate({"mcp_token": TOKEN})

    @asynccontextmanager
    async def client(url: str) -> AsyncIterator[Client]:
        async with (
            httpx2.AsyncClient(verify=CA2, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http,
            Client(
                streamable_http_client(url, http_client=http),
                mode="auto",
                elicitation_callback=Human(),
            ) as c,
        ):
            yield c

    with fresh_schema() as url:
        async with (
            guarded(emulator, tmp_path / "a", database_url=url, server_settings=srv) as (server_a, deps_a),
            guarded(emulator, tmp_path / "b", database_url=url, server_settings=srv) as (server_b, deps_b),
            http_app(server_a, deps_a) as base_a,
            http_app(server_b, deps_b) as base_b,
            client(f"{base_a}/mcp") as on_a,
            client(f"{base_b}/mcp") as on_b,
        ):
            args = {"token": p.daniel, "text": "Answered on another replica"}
            asked = await on_a.session.call_tool("send_message", args, allow_input_required=True)
            assert isinstance(asked, types.InputRequiredResult)
            assert asked.input_requests is not None
            assert asked.request_state is not None
            key = next(iter(asked.input_requests))
            yes = {key: types.ElicitResult(action="accept", content={"send": True})}
            done = await on_b.session.call_tool(
                "send_message",
                args,
                input_responses=yes,  # type: ignore[arg-type]
                request_state=asked.request_state,
                allow_input_required=True,
            )
            log = await call(on_a, "list_sends", {})
    assert isinstance(done, types.CallToolResult)
    assert done.structured_content is not None
    assert done.structured_content["status"] == "sent", done.structured_content
    assert [i["status"] for i in log["items"]] == ["sent"]
    assert [r["text"] for r in sent(emulator)] == ["Answered on another replica"]
