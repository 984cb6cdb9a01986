"""The approval page from any replica: two server instances on one PostgreSQL schema (in-process,
each with its own HTTP listener); the send is prepared on A, the human opens the link on B, and
racing approvals posted to both send once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from .guard_harness import decide, guarded, http_app, open_page, people, sent
from .pg import fresh_schema
from .support import call

pytestmark = pytest.mark.anyio


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
