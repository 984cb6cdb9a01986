"""The real server as a subprocess: kill -9 during a webhook burst, the stdio side listener, --sandbox."""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters

from . import support
from .inbox_harness import SECRET, eventually, inbound, payload, token_of
from .loopback import CA
from .support import call

free_port = support.free_port
pytestmark = pytest.mark.anyio


def server_env(emulator: Any, data_dir: Path, **extra: str) -> dict[str, str]:
    return support.server_env(emulator, data_dir, OUTPERFORM_WEBHOOK_SECRET=SECRET, **extra)


@contextmanager
def http_server(env: dict[str, str], port: int, *args: str, stderr: Any = None) -> Iterator[subprocess.Popen[bytes]]:
    cmd = [sys.executable, "-m", "outperform_mcp.cli", "--http", "--port", str(port), *args]
    proc = subprocess.Popen(cmd, env=env, stderr=stderr)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    with anyio.fail_after(30):
        while True:
            assert proc.poll() is None, "server exited during startup"
            try:
                async with await anyio.connect_tcp("127.0.0.1", port):
                    return
            except OSError:
                await anyio.sleep(0.05)


async def all_texts(url: str) -> list[str]:
    texts: list[str] = []
    async with Client(url) as client:
        cursor = 0
        while True:
            page = await call(client, "list_inbound", {"since": cursor, "unread_only": False, "limit": 100})
            texts += [m["text"] for m in page["items"]]
            cursor = page["next_cursor"]
            if not page["more"]:
                return texts


async def test_every_acknowledged_event_survives_kill_9(emulator: Any, tmp_path: Path) -> None:
    env = server_env(emulator, tmp_path)
    port = free_port()
    acked: list[str] = []
    failed = 0
    total, senders, kill_after = 4000, 24, 400
    tls = ssl.create_default_context()
    with http_server(env, port) as proc:
        await wait_listening(port, proc)
        url = f"http://127.0.0.1:{port}/webhooks/outperform/{SECRET}"
        killed = anyio.Event()

        async def sender(first: int) -> None:
            nonlocal failed
            async with httpx.AsyncClient(timeout=10, verify=tls) as http:
                for i in range(first, total, senders):
                    text = f"crash-test {i}"
                    try:
                        answer = await http.post(url, json=payload(text, phone=f"6012{i % 50:07d}"))
                    except httpx.HTTPError:
                        failed += 1
                        if killed.is_set():
                            return
                        continue
                    if answer.status_code == 200:
                        acked.append(text)
                    if len(acked) >= kill_after and not killed.is_set():
                        os.kill(proc.pid, signal.SIGKILL)  # mid-burst: other senders have requests in flight
                        killed.set()

        async with anyio.create_task_group() as tg:
            for first in range(senders):
                tg.start_soon(sender, first)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    assert killed.is_set()
    assert kill_after <= len(acked) < total
    assert failed > 0  # the kill really cut requests off

    port = free_port()
    with http_server(env, port) as proc:  # same data dir
        await wait_listening(port, proc)
        stored = await all_texts(f"http://127.0.0.1:{port}/mcp")
    assert len(stored) == len(set(stored))
    missing = set(acked) - set(stored)
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"


async def test_stdio_server_receives_webhooks_on_its_side_listener(emulator: Any, tmp_path: Path) -> None:
    port = free_port()
    env = server_env(emulator, tmp_path, OUTPERFORM_LISTEN_PORT=str(port))
    params = StdioServerParameters(command=sys.executable, args=["-m", "outperform_mcp.cli"], env=env)
    async with Client(params) as client:
        async with httpx.AsyncClient(verify=CA) as http:
            with anyio.fail_after(10):
                while True:
                    try:
                        answer = await http.post(
                            f"http://127.0.0.1:{port}/webhooks/outperform/{SECRET}", json=payload("via stdio")
                        )
                        break
                    except httpx.ConnectError:
                        await anyio.sleep(0.05)
        assert answer.json() == {"status": "stored", "id": 1}
        listed = await call(client, "list_inbound")
        assert [m["text"] for m in listed["items"]] == ["via stdio"]


async def test_sandbox_mode_wires_the_emulator_to_the_receiver(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTPERFORM_")}
    env["OUTPERFORM_DATA_DIR"] = str(tmp_path)
    log = tmp_path / "stderr.log"
    with log.open("wb") as err, http_server(env, port, "--sandbox", stderr=err) as proc:
        await wait_listening(port, proc)
        pattern = re.compile(r"POST (http://\S+)/_sandbox/inbound")
        await eventually(lambda: pattern.search(log.read_text()), 10)
        found = pattern.search(log.read_text())
        assert found is not None
        emulator = type("Emu", (), {"root_url": found.group(1)})()
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            token = await token_of(client, "Daniel Lee")
            delivery = await inbound(emulator, prospect_token=token, text="hello from the sandbox")
            assert delivery["status"] == 200
            listed = await call(client, "list_inbound", {"contact": token})
    assert [m["text"] for m in listed["items"]] == ["hello from the sandbox"]
    assert "/webhooks/outperform/" not in log.read_text()  # the generated secret is in no URL or log line
