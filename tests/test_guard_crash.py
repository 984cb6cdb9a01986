"""kill -9 while a message is in flight, then restart on the same data: the journal keeps the row,
marks it 'unknown', and nothing is sent again on its own. The server runs as a real subprocess."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from .guard_harness import decide, open_page, people, reset, sent
from .loopback import CA
from .support import call, control, eventually, free_port, server_env

pytestmark = pytest.mark.anyio


@contextmanager
def server_process(emulator: Any, data_dir: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    env = server_env(emulator, data_dir, OUTPERFORM_INSTANCE_ID="crash-test")
    proc = subprocess.Popen(
        [sys.executable, "-m", "outperform_mcp.cli", "--http", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


async def wait_until_up(base: str, proc: subprocess.Popen[str]) -> None:
    async with httpx.AsyncClient(verify=CA) as http:
        for _ in range(200):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "server exited"
            try:
                await http.get(f"{base}/mcp")
                return
            except httpx.TransportError:
                await anyio.sleep(0.05)
    raise AssertionError("server did not start")


def statuses(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT status FROM sends ORDER BY id")]
    finally:
        conn.close()


async def test_kill_9_between_sending_and_sent_then_restart(emulator: Any, tmp_path: Path) -> None:
    reset(emulator)
    p = people(emulator)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    db = tmp_path / "outperform.db"
    args = {"token": p.daniel, "text": "Your unit is reserved."}

    with server_process(emulator, tmp_path, port) as first:
        await wait_until_up(base, first)
        async with Client(f"{base}/mcp") as c:  # no elicitation: approval through the page
            out = await call(c, "send_message", args)
        assert out["status"] == "pending_approval"
        _, token = await open_page(out["approval_url"])
        assert token is not None

        control(emulator, "POST", "faults", {"latency_ms": 1000})  # the send will hang in the API

        async def approve() -> None:
            with contextlib.suppress(httpx.TransportError):  # the server dies mid-request
                await decide(out["approval_url"], "approve", token)

        async with anyio.create_task_group() as tg:
            tg.start_soon(approve)
            with anyio.fail_after(10):
                while "sending" not in statuses(db):  # noqa: ASYNC110 - polling another process's database
                    await anyio.sleep(0.02)
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        assert first.returncode == -signal.SIGKILL
    assert statuses(db) == ["sending"]  # the record survived the kill

    # The second process starts while the slow API finishes what the first sent it (it calls the
    # API only when asked, and nothing asks it until the count below is taken).
    with server_process(emulator, tmp_path, port) as second:
        await eventually(lambda: emulator.in_flight() == 0)  # the slow API finished whatever it received
        control(emulator, "DELETE", "faults")
        before = control(emulator, "GET", "stats")["requests"]["send_message"]
        assert len(sent(emulator)) <= 1
        await wait_until_up(base, second)
        async with Client(f"{base}/mcp") as c:
            log = await call(c, "list_sends", {})  # recovery ran before the server took requests
            again = await call(c, "send_message", args)
        page, _ = await open_page(again["approval_url"])
        second.send_signal(signal.SIGTERM)
        _, stderr = second.communicate(timeout=10)

    item = log["items"][0]
    assert item["status"] == "unknown"
    assert "stopped while this message was being sent" in item["error"]
    assert "outcome unknown" in stderr
    # Nothing re-sent on its own, over the second process's whole life (it has exited: whatever it
    # sent has been counted); the same message again needs a new approval that says it is a repeat.
    assert control(emulator, "GET", "stats")["requests"]["send_message"] == before
    assert len(sent(emulator)) <= 1
    assert again["status"] == "pending_approval"
    assert again["approval_id"] != out["approval_id"]
    assert again["messages"][0]["repeat_of"] == item["send_id"]
    assert "REPEAT" in page.text
