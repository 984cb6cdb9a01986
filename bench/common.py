"""Shared pieces of the benchmarks: settings, process spawning, MCP clients, statistics, result rows."""

from __future__ import annotations

import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from emulator import EmulatorProcess
from pydantic import SecretStr

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = sys.executable

# The read call every per-call measurement uses: a page of 20 contacts, the same arguments for
# the tool (ours: search_contacts; the peer: list_contacts) and for the direct API call.
SEARCH = "a"
PAGE = 20
OUR_READ_TOOL = "search_contacts"
PEER_READ_TOOL = "list_contacts"


@dataclass(frozen=True)
class Config:
    quick: bool = False

    def pick(self, quick: int, full: int) -> int:
        return quick if self.quick else full


@dataclass
class Row:
    """One line of the results table."""

    section: str
    measure: str
    ours: str
    baseline: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *rows: Row) -> None:
        self.rows.extend(rows)

    def note(self, text: str) -> None:
        self.notes.append(text)


# -- statistics -------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def ms(seconds: float, digits: int = 2) -> str:
    return f"{seconds * 1000:.{digits}f} ms"


def ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


async def timed(fn: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


def est_tokens(chars: int) -> int:
    """The issue's estimate: characters / 4."""
    return math.ceil(chars / 4)


# -- settings and processes -------------------------------------------------------------------


def api_settings(emu: EmulatorProcess, data_dir: Path, **overrides: Any) -> Any:
    from outperform_mcp.settings import ApiSettings

    values: dict[str, Any] = {
        "base_url": emu.base_url,
        "client_id": emu.client_id,
        "client_secret": SecretStr(emu.client_secret),
        "instance_id": "bench-instance",
        "data_dir": data_dir,
        "persist_refresh_token": False,
    }
    values.update(overrides)
    return ApiSettings.model_validate(values)


def server_env(emu: EmulatorProcess, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a server subprocess: only what a host would pass, pointed at the emulator."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(data_dir),
        "OUTPERFORM_BASE_URL": emu.base_url,
        "OUTPERFORM_CLIENT_ID": emu.client_id,
        "OUTPERFORM_CLIENT_SECRET": emu.client_secret,
        "OUTPERFORM_INSTANCE_ID": "bench-instance",
        "OUTPERFORM_DATA_DIR": str(data_dir),
    }
    if os.environ.get("PYTHONPATH"):  # A/B runs against a patched copy: PYTHONPATH=/tmp/copy python bench/run.py
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    env.update(extra)
    return env


@contextmanager
def scratch_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="outperform-bench-") as path:
        yield Path(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def http_server(args: Sequence[str], env: dict[str, str], cwd: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Spawn an MCP server that listens on a free loopback port; yields its /mcp URL once it answers."""
    port = free_port()
    # stderr goes to a file: a pipe nobody drains would block a server that logs every request.
    log_path = cwd / f"server-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [PY, *[a.replace("{port}", str(port)) for a in args]],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=0.5)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = log_path.read_text(errors="replace")
                    raise RuntimeError(f"server {args} did not start: {err[-2000:]}") from None
                time.sleep(0.05)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@asynccontextmanager
async def http_client(url: str, *, connections: int = 1000) -> AsyncIterator[Any]:
    """An MCP client over Streamable HTTP whose pool never limits concurrency."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with (
        httpx2.AsyncClient(timeout=120, limits=limits) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


@asynccontextmanager
async def our_server_in_process(emu: EmulatorProcess, data_dir: Path, **api_overrides: Any) -> AsyncIterator[Any]:
    """(MCPServer, Deps) wired like the CLI does, API client on loopback HTTP to the emulator."""
    from outperform_mcp.server.app import build_server
    from outperform_mcp.server.runtime import open_deps
    from outperform_mcp.settings import Settings

    async with open_deps(Settings(api=api_settings(emu, data_dir, **api_overrides))) as deps:
        yield build_server(deps), deps


OUR_HTTP_ARGS = ("-m", "outperform_mcp.cli", "--http", "--port", "{port}")
OUR_STDIO_ARGS = ("-m", "outperform_mcp.cli")


def contact_token(emu: EmulatorProcess, name: str) -> str:
    token = emu.access_token()
    found = emu.http.get(
        emu.base_url + "contacts", params={"search": name}, headers={"Authorization": f"Bearer {token}"}
    ).json()
    return str(found["data"][0]["prospect_token"])


_LINES = (
    "Hi, is the 3-bedroom unit at Mont Kiara still available? We would like to view it this weekend.",
    "Yes, it is! Viewing slots on Saturday are 10am, 2pm and 4pm. Which one suits you best?",
    "2pm works. Can my wife join? She is coming from Petaling Jaya so she may be a bit late.",
    "Of course. I have booked 2pm Saturday for you both; the address and parking details follow.",
    "Thanks. What is the maintenance fee per month, and is there a covered parking bay included?",
    "RM 0.35 per sq ft, about RM 420 a month for this unit, and yes, two covered bays are included.",
    "Ok noted",
    "Could you send the floor plan and the latest price list as a PDF please?",
)


def grow_conversation(emu: EmulatorProcess, name: str, total: int) -> str:
    """Give one contact a thread of ``total`` messages (alternating inbound/outbound); returns its token."""
    token = contact_token(emu, name)
    access = emu.access_token()
    headers = {"Authorization": f"Bearer {access}"}
    thread = emu.http.get(
        emu.base_url + "conversations", params={"prospect_token": token, "limit": "1"}, headers=headers
    ).json()
    have = len(thread["data"][0]["message"]) if thread.get("data") else 0
    for i in range(have, total):
        text = _LINES[i % len(_LINES)]
        if i % 2 == 0:
            emu.control("POST", "inbound", {"prospect_token": token, "text": text, "deliver": False})
        else:
            sent = emu.http.post(
                emu.base_url + "send_message",
                json={"prospect_token": token, "message": text, "instance_id": "bench-instance"},
                headers=headers,
            )
            sent.raise_for_status()
    return token


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("mcp", "httpx", "httpx2", "pydantic", "fastmcp"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        **versions,
    }
