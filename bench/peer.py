"""The peer server (FastMCP ``from_openapi`` over ``openapi.json``), run the same ways as ours.

Every measurement module compares against the peer in the same interleaved run as its own
figures; this module only knows how to start the peer: in process (its low-level MCP server
driven by the ``mcp`` SDK ``Client``, the same client that drives ours), over Streamable HTTP
and over stdio (both by spawning ``peer_server.py``). If ``fastmcp`` is not installed the peer
rows are skipped and the table says so.
"""

from __future__ import annotations

import importlib.util
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from common import BENCH, http_server
from emulator import EmulatorProcess

SCRIPT = str(BENCH / "peer_server.py")
HTTP_ARGS = (SCRIPT, "--http", "--port", "{port}")
STDIO_ARGS = (SCRIPT,)
NAME = "FastMCP.from_openapi"


def available() -> bool:
    return importlib.util.find_spec("fastmcp") is not None


def env(emu: EmulatorProcess, data_dir: Path, token: str) -> dict[str, str]:
    import os

    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(data_dir),
        "PEER_BASE_URL": emu.base_url,
        "PEER_ACCESS_TOKEN": token,
        # FastMCP reads its own settings from FASTMCP_*; keep its banner and INFO logs off stderr.
        "FASTMCP_SHOW_SERVER_BANNER": "false",
        "FASTMCP_LOG_LEVEL": "WARNING",
    }


@asynccontextmanager
async def in_process(emu: EmulatorProcess) -> AsyncIterator[Any]:
    """An ``mcp.Client`` connected in process to the peer (falls back to fastmcp's own client)."""
    from mcp import Client
    from peer_server import build_peer

    server = build_peer(emu.base_url, emu.access_token())
    low_level = getattr(server, "_mcp_server", None)
    if low_level is not None:
        async with Client(low_level) as client:
            yield client
    else:  # pragma: no cover - a fastmcp without the attribute
        import fastmcp

        async with fastmcp.Client(server) as client:
            yield client


@contextmanager
def over_http(emu: EmulatorProcess, data_dir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with http_server(HTTP_ARGS, env(emu, data_dir, emu.access_token()), data_dir) as (url, proc):
        yield url, proc
