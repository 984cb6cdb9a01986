"""kill -9 in the middle of `outperform-mcp sync`, then run it again: it resumes at the first page
not stored (no stored page is fetched again) and ends with the same data as the raw API."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from .support import control, server_env
from .test_insights import raw

pytestmark = pytest.mark.anyio
PAGE = 10


def checkpoint(db: Path, kind: str) -> tuple[int, int] | None:
    """(next page, complete) of a kind's first pass, as the other process committed it."""
    if not db.exists():
        return None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT next_page, complete FROM mirror_sync WHERE kind = ?", (kind,)).fetchone()
    except sqlite3.OperationalError:  # the schema is not there yet
        return None
    finally:
        conn.close()
    return (int(row[0]), int(row[1])) if row else None


def count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def sync(emulator: Any, data_dir: Path) -> subprocess.Popen[str]:
    env = server_env(
        emulator,
        data_dir,
        OUTPERFORM_SYNC_PAGE_SIZE=str(PAGE),
        OUTPERFORM_SYNC_CONCURRENCY="1",
        OUTPERFORM_SYNC_RATE="0",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "outperform_mcp.cli", "sync"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_kill_9_mid_sync_resumes_without_refetching(
    emulator: Any, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "outperform.db"
    control(emulator, "POST", "faults", {"latency_ms": 40})  # slow enough to land the kill mid-way
    first = sync(emulator, tmp_path)
    try:
        with anyio.fail_after(30):
            while (checkpoint(db, "conversations") or (0, 0))[0] < 6:  # noqa: ASYNC110 - another process's database
                await anyio.sleep(0.02)
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    stopped_at = checkpoint(db, "conversations")
    assert stopped_at is not None
    assert stopped_at[1] == 0  # killed mid-pass
    stored_pages = stopped_at[0] - 1
    stored_threads = count(db, "SELECT COUNT(DISTINCT token) FROM mirror_messages")
    assert stored_threads >= stored_pages * PAGE

    control(emulator, "DELETE", "faults")
    control(emulator, "POST", "stats/reset")
    second = sync(emulator, tmp_path)
    _, stderr = second.communicate(timeout=60)
    assert second.returncode == 0, stderr
    assert "mirror synced" in stderr

    total_threads = count(db, "SELECT COUNT(*) FROM mirror_threads")
    last_page = total_threads // PAGE + 1  # the first short page ends the pass
    calls = control(emulator, "GET", "stats")["requests"]
    # Only the pages after the checkpoint were read again; the stored ones were not.
    assert calls["list_conversations"] == last_page - stored_pages
    assert checkpoint(db, "conversations") == (1, 1)
    threads = raw(emulator, auth_headers, "conversations")
    assert count(db, "SELECT COUNT(*) FROM mirror_messages") == sum(len(t["message"]) for t in threads)
    assert total_threads == len(threads)
