"""The real entry point: stdio subprocess, Streamable HTTP (with and without a bearer token), CLI errors."""

from __future__ import annotations

import gc
import logging
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from outperform_mcp.cli import main
from outperform_mcp.logs import QUIET
from outperform_mcp.sandbox_wiring import sandbox_settings
from outperform_mcp.settings import ApiSettings, Settings

from .inbox_harness import payload
from .loopback import CA2, LOOPBACK
from .support import free_port, server_env

pytestmark = pytest.mark.anyio


@contextmanager
def http_server(env: dict[str, str], cwd: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "outperform_mcp.cli", "--http", "--port", str(port), *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        for _ in range(200):
            try:
                LOOPBACK.get(url, timeout=0.5)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    raise AssertionError(proc.stderr.read().decode() if proc.stderr else "server exited") from None
                import time

                time.sleep(0.05)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@asynccontextmanager
async def http_client(
    url: str, token: str | None, mode: str, statuses: list[int] | None = None
) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def record(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    async with (
        httpx2.AsyncClient(verify=CA2, headers=headers, timeout=30, event_hooks={"response": [record]}) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stdio_subprocess(emulator: Any, tmp_path: Path, mode: str) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "outperform_mcp.cli"], env=server_env(emulator, tmp_path), cwd=str(tmp_path)
    )
    async with Client(params, mode=mode) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"search_contacts", "get_conversation"} <= names
        result = await client.call_tool("search_contacts", {"search": "Daniel Lee"})
        assert result.is_error is False
        assert result.structured_content
        assert result.structured_content["items"][0]["name"] == "Daniel Lee"


# One server process per configuration for the module: starting one costs about a second of CPU,
# and these tests change nothing a later test reads (the emulator resets between tests; a reset
# revokes the server's tokens, which it renews by logging in again, as with the real API).
TOKEN = "test-mcp-token-123"
HOOK_SECRET = "webhook-secret-0123456789"


@pytest.fixture(scope="module")
def open_url(_shared_emulator_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("open")
    with http_server(server_env(_shared_emulator_server, data), data) as (url, _):
        yield url


@pytest.fixture(scope="module")
def token_url(_shared_emulator_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("token")
    env = server_env(_shared_emulator_server, data, OUTPERFORM_MCP_TOKEN=TOKEN, OUTPERFORM_WEBHOOK_SECRET=HOOK_SECRET)
    with http_server(env, data) as (url, _):
        yield url


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_http_without_token_on_loopback(emulator: Any, open_url: str, mode: str) -> None:
    async with http_client(open_url, None, mode) as client:
        result = await client.call_tool("list_labels", {})
        assert result.is_error is False


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_http_with_bearer_token(emulator: Any, token_url: str, mode: str) -> None:
    url = token_url
    assert LOOPBACK.post(url, json={}).status_code == 401
    # The bearer token guards /mcp only: OutPerform's webhook and a person's approval page carry none.
    base = url.removesuffix("/mcp")
    hook = LOOPBACK.post(f"{base}/webhooks/outperform/{HOOK_SECRET}", json=payload("hello"))
    assert hook.status_code == 200, hook.text
    assert LOOPBACK.get(f"{base}/approvals/unknown/link").status_code == 404
    bad = LOOPBACK.post(url, json={}, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    async with http_client(url, TOKEN, mode) as client:
        result = await client.call_tool("list_labels", {})
        assert result.is_error is False
    statuses: list[int] = []
    with pytest.RaisesGroup(MCPError, flatten_subgroups=True):  # the SDK wraps it in task groups
        async with http_client(url, "wrong-token", mode, statuses) as client:
            await client.list_tools()
    assert statuses  # refused at the door, not some later failure
    assert set(statuses) == {401}


async def test_dns_rebinding_protection(emulator: Any, open_url: str) -> None:
    response = LOOPBACK.post(open_url, json={}, headers={"Host": "evil.example"})
    assert response.status_code == 421


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "outperform_mcp.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def main_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., Ran]]:
    """``cli.main(args)`` in this process with ``env`` as the environment: the start-up checks run
    exactly as in a process, without a second of interpreter and imports each. The process-level
    contract (exit code 2 and one line on stderr from the real entry point) is checked apart, by
    ``test_missing_settings_stop_start_with_one_message`` and test_install_paths."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in ("outperform_mcp", *QUIET)})

    def run(*args: str, env: dict[str, str]) -> Ran:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = main(list(args))
        assert gc.isenabled(), "a failed start left the garbage collector off"
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    yield run
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def test_missing_settings_stop_start_with_one_message(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "OUTPERFORM_READ_TIMEOUT": "-1"}
    done = run_cli(env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    for name in ("OUTPERFORM_CLIENT_ID", "OUTPERFORM_CLIENT_SECRET", "OUTPERFORM_READ_TIMEOUT"):
        assert name in done.stderr
    assert "Traceback" not in done.stderr


def test_refuses_public_http_without_token(emulator: Any, tmp_path: Path, main_in_process: Callable[..., Ran]) -> None:
    done = main_in_process("--http", "--host", "0.0.0.0", env=server_env(emulator, tmp_path))  # noqa: S104
    assert done.returncode == 2
    assert "OUTPERFORM_MCP_TOKEN" in done.stderr


def test_check_prints_expiry_never_the_token(emulator: Any, tmp_path: Path) -> None:
    done = run_cli("check", env=server_env(emulator, tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "valid until" in done.stdout
    assert emulator.client_secret not in done.stdout + done.stderr
    bad = run_cli("check", env=server_env(emulator, tmp_path, OUTPERFORM_CLIENT_SECRET="wrong"), cwd=tmp_path)
    assert bad.returncode == 1
    assert "OUTPERFORM_CLIENT_SECRET" in bad.stderr


def test_malformed_prompt_file_stops_start_with_its_name(
    emulator: Any, tmp_path: Path, main_in_process: Callable[..., Ran]
) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "broken.md").write_text("---\nname: broken\n---\nno description\n", encoding="utf-8")
    done = main_in_process(env=server_env(emulator, tmp_path, OUTPERFORM_PROMPTS_DIR=str(prompts)))
    assert done.returncode == 2
    assert "broken.md" in done.stderr
    assert "description" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (("--tools", "no_such_tool"), "unknown toolset or tool: no_such_tool"),
        (("--toolsets", "contact"), "toolsets are contacts"),
        (("--read-only", "--tools", "create_contact"), "leave no tool to offer"),
        (("--http", "--port", "99999"), "--port must be between 1 and 65535, not 99999"),
    ],
)
def test_bad_tool_selection_is_one_clear_line(
    emulator: Any, tmp_path: Path, main_in_process: Callable[..., Ran], args: tuple[str, ...], expect: str
) -> None:
    done = main_in_process(*args, env=server_env(emulator, tmp_path))
    assert done.returncode == 2
    assert expect in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_prompts_folder_stops_start(emulator: Any, tmp_path: Path, main_in_process: Callable[..., Ran]) -> None:
    env = server_env(emulator, tmp_path, OUTPERFORM_PROMPTS_DIR=str(tmp_path / "nowhere"))
    done = main_in_process(env=env)
    assert done.returncode == 2
    assert f"OUTPERFORM_PROMPTS_DIR: Value error, no such folder: {tmp_path / 'nowhere'}" in done.stderr
    assert "Traceback" not in done.stderr


def test_sandbox_gets_a_fresh_data_folder_per_process_unless_one_is_set(tmp_path: Path) -> None:
    with sandbox_settings(Settings()) as one, sandbox_settings(Settings()) as two:
        assert one.api.data_dir != two.api.data_dir
        assert one.api.data_dir.is_dir()
        assert not any(one.api.data_dir.iterdir())
    assert not one.api.data_dir.exists()
    with sandbox_settings(Settings(api=ApiSettings(data_dir=tmp_path))) as kept:
        assert kept.api.data_dir == tmp_path / "sandbox"


@pytest.mark.parametrize("command", [("--http",), ("sandbox",)], ids=["server", "emulator"])
def test_port_in_use_is_one_clear_line(
    emulator: Any, tmp_path: Path, main_in_process: Callable[..., Ran], command: tuple[str, ...]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = main_in_process(*command, "--port", port, env=server_env(emulator, tmp_path))
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
