"""Host approval mode (prepare, then commit_send) and the single-use, payload-bound, client-bound,
expiring approval: replays, expiry, tampering and racing commits send at most once."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client

from .guard_harness import MODES, guarded, people, sent
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

        done = await call(c, "commit_send", {"approval_id": prepared["approval_id"]})
        assert done["status"] == "sent"
        replay = await call(c, "commit_send", {"approval_id": prepared["approval_id"]})
        assert replay["status"] == "sent"  # reports the first outcome, sends nothing
    assert [r["text"] for r in sent(emulator)] == ["Brochure attached."]


async def test_commit_is_bound_to_the_client_that_asked(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    other = types.Implementation(name="another-agent", version="9")
    async with guarded(emulator, tmp_path, approval_mode="host") as (server, _):
        async with Client(server, mode="legacy") as asker:
            prepared = await call(asker, "send_message", {"token": p.daniel, "text": "Hi"})
        async with Client(server, mode="legacy", client_info=other) as thief:
            text = await error_text(thief, "commit_send", {"approval_id": prepared["approval_id"]})
            unknown = await error_text(thief, "commit_send", {"approval_id": "no-such-approval-id"})
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
        out = await call(c, "commit_send", {"approval_id": prepared["approval_id"]})
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
        out = await call(c, "commit_send", {"approval_id": prepared["approval_id"]})
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
            results.append(await call(c, "commit_send", {"approval_id": prepared["approval_id"]}))

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
