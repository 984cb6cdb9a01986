"""The mirror sync on a shared (PostgreSQL) store runs on one process at a time, under the lease
``job:mirror-sync``; when its holder dies (kill -9) the lease expires and another process's pass
takes over and finishes the mirror."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from outperform_mcp.api.client import OutPerformClient
from outperform_mcp.mirror.sync import SYNC_LEASE, Mirror
from outperform_mcp.settings import MirrorSettings
from outperform_mcp.store import leases, mirror
from outperform_mcp.store.db import open_store
from outperform_mcp.store.optout import DEFAULT

from .pg import fresh_schema
from .support import api_settings, eventually

pytestmark = pytest.mark.anyio
LEASE_S = 1.0


async def test_the_sync_lease_moves_to_another_process_when_its_holder_dies(emulator: Any, tmp_path: Path) -> None:
    # The dying process's API never answers (a socket that is listening but never accepts), so
    # its pass holds the lease, stuck in its first request, until it is killed.
    with socket.socket() as black_hole, fresh_schema() as url:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(8)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "OUTPERFORM_BASE_URL": f"http://127.0.0.1:{black_hole.getsockname()[1]}/cloud/conversationapis/v1/",
            "OUTPERFORM_CLIENT_ID": "dying",
            "OUTPERFORM_CLIENT_SECRET": "dying-secret",
            "OUTPERFORM_DATA_DIR": str(tmp_path / "dying"),
            "OUTPERFORM_PERSIST_REFRESH_TOKEN": "false",
            "OUTPERFORM_DATABASE_URL": url,
            "OUTPERFORM_LEASE_SECONDS": str(LEASE_S),
        }
        store = open_store(url, tmp_path)
        cmd = [sys.executable, "-m", "outperform_mcp.cli", "sync"]
        dying = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)  # noqa: ASYNC220 - returns at once
        try:

            def holder() -> str | None:
                return store.call(lambda conn: leases.holder_of(conn, SYNC_LEASE, datetime.now(UTC)))

            await eventually(holder, 20)
            dead = holder()
            assert dead is not None
            assert dead != store.process_id
            async with OutPerformClient(api_settings(emulator, tmp_path)) as api:
                survivor = Mirror(
                    api, store, MirrorSettings(sync_rate=0, sync_interval=0), opt_out=DEFAULT, lease_ttl=LEASE_S
                )
                # While the holder lives and renews, this process's pass waits for the lease.
                with anyio.move_on_after(LEASE_S * 1.5) as waited:
                    await survivor.sync()
                assert waited.cancelled_caught, "a second pass ran while another process held the lease"
                assert holder() == dead
                os.kill(dying.pid, signal.SIGKILL)
                dying.wait(timeout=10)
                with anyio.fail_after(LEASE_S * 10):
                    report = await survivor.sync()
            assert report.stored["contacts"] > 0
            assert store.call(mirror.freshness).complete
            assert holder() is None  # released at the end of the pass
        finally:
            if dying.poll() is None:
                dying.kill()
                dying.wait()
            store.close()
