"""The send journal: outcomes recorded as they happen (sent, failed, unknown), never retried on
their own, settled at start-up without sending, and single-use at the row level."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from outperform_mcp.guard.service import SendService
from outperform_mcp.store import journal
from outperform_mcp.store.db import SqliteStore, iso

from .guard_harness import Human, guard_settings, guarded, people, sent
from .support import call, control

pytestmark = pytest.mark.anyio


async def test_broken_connection_after_write_is_unknown_and_not_retried(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    args = {"token": p.daniel, "text": "Did this arrive?"}
    async with guarded(emulator, tmp_path) as (server, _), Client(server, elicitation_callback=Human()) as c:
        control(emulator, "POST", "faults", {"rules": [{"operation": "send_message", "kind": "drop_after_write"}]})
        out = await call(c, "send_message", args)
        retried = await call(c, "send_message", args)
        log = await call(c, "list_sends", {"status": "unknown"})
    assert out["status"] == "unknown"
    assert "never retried automatically" in out["message"]
    assert retried["status"] == "unknown"
    assert retried["approval_id"] == out["approval_id"]
    assert [i["status"] for i in log["items"]] == ["unknown"]
    assert control(emulator, "GET", "stats")["requests"]["send_message"] == 1
    assert len(sent(emulator)) == 1  # it did arrive: exactly why it must not be retried blindly


async def test_refused_by_the_api_is_failed(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with guarded(emulator, tmp_path) as (server, _), Client(server, elicitation_callback=Human()) as c:
        control(emulator, "POST", "faults", {"rules": [{"operation": "send_template", "kind": "503"}]})
        out = await call(c, "send_template", {"tokens": [p.aisha], "template": "holiday_greetings_v1"})
    assert out["status"] == "failed"
    assert out["messages"][0]["error"]
    assert sent(emulator) == []


async def test_without_a_templates_file_the_preview_says_so(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    human = Human("decline")
    async with (
        guarded(emulator, tmp_path, templates_file=None) as (server, _),
        Client(server, elicitation_callback=human) as c,
    ):
        out = await call(c, "send_template", {"tokens": [p.aisha], "template": "any_name_v1", "params": ["x", "y"]})
    assert out["status"] == "declined"
    assert "any_name_v1 ('x', 'y')" in human.shown[0]
    assert "template body not known to this server" in human.shown[0]


def _seed(conn: sqlite3.Connection, now: datetime, approval_status: str, rows: list[str]) -> str:
    approval_id = f"test-{approval_status}-{len(rows)}"
    journal.insert_approval(
        conn,
        approval_id=approval_id,
        client="c",
        digest="d",
        kind="session",
        channel="host",
        status=approval_status,
        allowed_because=[],
        created_at=now,
        expires_at=now + timedelta(minutes=10),
        sends=[
            journal.NewSend(n, f"tok{n}xxxxx", "N", "601", "session", "t", None, [], None, f"k{n}", None)
            for n in range(len(rows))
        ],
        send_status="approved",
    )
    for send, status in zip(journal.sends_of(conn, approval_id), rows, strict=True):
        conn.execute("UPDATE sends SET status = ?, sending_at = ? WHERE id = ?", (status, iso(now), send.id))
    return approval_id


async def test_start_up_settles_rows_and_sends_nothing(emulator: Any, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    store = SqliteStore(tmp_path / "j.db")
    try:
        used = store.call(lambda conn: _seed(conn, now, "used", ["sending", "approved", "sent"]))
        before = control(emulator, "GET", "stats")["total"]
        async with guarded(emulator, tmp_path / "x") as (_, deps):
            service = SendService(deps.api, store, guard_settings())
            found = await service.start()
            again = await service.recover()
        rows = store.call(lambda conn: journal.sends_of(conn, used))
    finally:
        store.close()
    assert (found.unknown, found.not_sent) == (1, 1)
    assert (again.unknown, again.not_sent) == (0, 0)
    assert [r.status for r in rows] == ["unknown", "failed", "sent"]
    assert "stopped while this message was being sent" in (rows[0].error or "")
    assert control(emulator, "GET", "stats")["total"] == before  # reset only; recovery called no API


def test_mark_sending_is_single_use(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    store = SqliteStore(tmp_path / "j.db")
    try:
        approval_id = store.call(lambda conn: _seed(conn, now, "used", ["approved"]))
        row = store.call(lambda conn: journal.sends_of(conn, approval_id))[0]
        first = store.call(lambda conn: journal.mark_sending(conn, row.id, now))
        second = store.call(lambda conn: journal.mark_sending(conn, row.id, now))
        claimed = store.call(
            lambda conn: journal.transition(conn, approval_id, from_status="approved", to_status="used", at=now)
        )
    finally:
        store.close()
    assert (first, second) == (True, False)
    assert claimed is False  # already 'used': a second commit cannot claim it
