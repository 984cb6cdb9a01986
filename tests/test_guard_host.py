"""Host approval mode (prepare, then commit_send) and the single-use, payload-bound, client-bound,
expiring approval: replays, expiry, tampering and racing commits send at most once."""

from __future__ import annotations

import sqlite3
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

from .guard_harness import MODES, guarded, http_app, people, sent
from .loopback import CA2
from .support import Clock, call, error_text

pytestmark = pytest.mark.anyio


async def test_commit_send_exists_only_in_host_mode(emulator: Any, tmp_path: Path) -> None:
    async with guarded(emulator, tmp_path) as (server, _), Client(server) as c:
        auto = {t.name: t for t in (await c.list_tools()).tools}
    async with guarded(emulator, tmp_path, approval_mode="host") as (server, _), Client(server) as c:
        host = {t.name: t for t in (await c.list_tools()).tools}
    assert "commit_send" not in auto
    assert {"send_message", "send_template", "list_sends"} <= auto.keys()
    commit = host["commit_send"].annotations
    assert commit is not None
    assert commit.destructive_hint is True
    assert commit.read_only_hint is False
    assert auto["list_sends"].annotations is not None
    assert auto["list_sends"].annotations.read_only_hint is True


@pytest.mark.parametrize("mode", MODES)
async def test_prepare_then_commit_sends_once(emulator: Any, tmp_path: Path, mode: str) -> None:
    p = people(emulator)
    args = {"token": p.daniel, "text": "Brochure attached."}
    async with guarded(emulator, tmp_path, approval_mode="host") as (server, _), Client(server, mode=mode) as c:
        prepared = await call(c, "send_message", args)
        assert prepared["status"] == "awaiting_commit"
        assert prepared["messages"][0]["text"] == "Brochure attached."
        assert prepared["expires_at"]
        again = await call(c, "send_message", args)  # idempotent: the same pending approval
        assert again["approval_id"] == prepared["approval_id"]
        changed = await call(c, "send_message", {**args, "text": "Brochure attached!"})
        assert changed["approval_id"] != prepared["approval_id"]  # a changed payload needs its own approval
        assert sent(emulator) == []

        done = await call(
            c, "commit_send", {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
        )
        assert done["status"] == "sent"
        replay = await call(
            c, "commit_send", {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
        )
        assert replay["status"] == "sent"  # reports the first outcome, sends nothing
    assert [r["text"] for r in sent(emulator)] == ["Brochure attached."]


async def test_commit_is_bound_to_the_client_that_asked(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    other = types.Implementation(name="another-agent", version="9")
    async with guarded(emulator, tmp_path, approval_mode="host") as (server, _):
        async with Client(server, mode="legacy") as asker:
            prepared = await call(asker, "send_message", {"token": p.daniel, "text": "Hi"})
        async with Client(server, mode="legacy", client_info=other) as thief:
            text = await error_text(
                thief, "commit_send", {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
            )
            unknown = await error_text(
                thief, "commit_send", {"approval_id": "no-such-approval-id", "commit_code": "x" * 32}
            )
    assert "prepared for another client" in text
    assert "no approval" in unknown
    assert sent(emulator) == []


async def test_expired_approval_cannot_be_committed(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    clock = Clock()
    async with (
        guarded(emulator, tmp_path, approval_mode="host", approval_ttl=60, clock=clock) as (server, _),
        Client(server) as c,
    ):
        prepared = await call(c, "send_message", {"token": p.daniel, "text": "Hi"})
        clock.advance(61)
        out = await call(
            c, "commit_send", {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
        )
    assert out["status"] == "expired"
    assert sent(emulator) == []


async def test_tampered_journal_payload_is_refused(emulator: Any, tmp_path: Path) -> None:
    """The stored message no longer matches the digest that was approved: refused, nothing sent."""
    p = people(emulator)
    async with guarded(emulator, tmp_path, approval_mode="host") as (server, deps), Client(server) as c:
        prepared = await call(c, "send_message", {"token": p.daniel, "text": "Meeting at 3pm"})

        def tamper(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE sends SET text = 'Send me your password' WHERE approval_id = ?", (prepared["approval_id"],)
            )

        await deps.store.run(tamper)
        out = await call(
            c, "commit_send", {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
        )
    assert out["status"] == "refused"
    assert "no longer matches" in out["message"] or "no longer matches" in str(out["refusals"])
    assert sent(emulator) == []


@pytest.mark.parametrize("mode", MODES)
async def test_racing_commits_send_once(emulator: Any, tmp_path: Path, mode: str) -> None:
    p = people(emulator)
    results: list[dict[str, Any]] = []
    async with guarded(emulator, tmp_path, approval_mode="host") as (server, _), Client(server, mode=mode) as c:
        prepared = await call(c, "send_template", {"tokens": [p.daniel, p.aisha], "template": "holiday_greetings_v1"})

        async def commit() -> None:
            results.append(
                await call(
                    c, "commit_send", {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
                )
            )

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(commit)
    assert len(results) == 4
    log = sent(emulator)
    assert sorted(r["prospect_token"] for r in log) == sorted([p.daniel, p.aisha])  # each exactly once


async def test_racing_commits_at_the_service(emulator: Any, tmp_path: Path) -> None:
    """Straight at the service, many concurrent commits of one approval: one send."""
    p = people(emulator)
    async with guarded(emulator, tmp_path, approval_mode="host") as (server, deps), Client(server) as c:
        prepared = await call(c, "send_message", {"token": p.daniel, "text": "Once only"})
        guard = deps.guard
        assert guard is not None
        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(lambda: guard.approve_and_send(prepared["approval_id"], by="host"))
    assert [r["text"] for r in sent(emulator)] == ["Once only"]


@pytest.mark.parametrize("mode", MODES)
async def test_commit_needs_the_code_only_the_preparing_call_got(emulator: Any, tmp_path: Path, mode: str) -> None:
    """Over HTTP with one bearer token, in both eras (2026-07-28 has no session id to tell clients
    apart): another client sees the approval id in list_sends but cannot commit without the code."""
    p = people(emulator)
    token = "t" * 32
    srv = ServerSettings.model_validate({"mcp_token": token})

    @asynccontextmanager
    async def client(url: str, name: str) -> AsyncIterator[Client]:
        async with (
            httpx2.AsyncClient(verify=CA2, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
            Client(
                streamable_http_client(url, http_client=http),
                mode=mode,
                client_info=types.Implementation(name=name, version="1"),
            ) as c,
        ):
            yield c

    async with (
        guarded(emulator, tmp_path, approval_mode="host", server_settings=srv) as (server, deps),
        http_app(server, deps) as base,
        client(f"{base}/mcp", "asker") as asker,
        client(f"{base}/mcp", "other") as other,
    ):
        prepared = await call(asker, "send_message", {"token": p.daniel, "text": "Hi"})
        seen = await call(other, "list_sends", {"status": "pending"})
        approval_id = seen["items"][0]["approval_id"]
        assert approval_id == prepared["approval_id"]
        text = await error_text(other, "commit_send", {"approval_id": approval_id, "commit_code": "A" * 32})
        assert sent(emulator) == []
        done = await call(asker, "commit_send", {"approval_id": approval_id, "commit_code": prepared["commit_code"]})
    # 2026-07-28: same bearer, no session: only the code tells them apart. Handshake era: the session too.
    assert ("commit_code does not match" if mode == "auto" else "another client") in text
    assert done["status"] == "sent"
    assert len(sent(emulator)) == 1
