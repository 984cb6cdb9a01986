"""The floor for a Python MCP server: a bare ``MCPServer`` with one tool, run like ours.

``python bench/minimal_server.py`` serves stdio; ``--http --port N`` serves Streamable HTTP.
Its one tool, ``wait``, sleeps ``ms`` milliseconds (the concurrency floor: the emulator's
100 ms latency with no HTTP client, no parsing, nothing of ours).
"""

from __future__ import annotations

import argparse

import anyio
from mcp.server.mcpserver import MCPServer

mcp = MCPServer("minimal", log_level="WARNING")


@mcp.tool()
async def wait(ms: int = 0) -> str:
    """Sleep ms milliseconds, then answer ok."""
    if ms:
        await anyio.sleep(ms / 1000)
    return "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    if args.http:
        mcp.run("streamable-http", host="127.0.0.1", port=args.port)
    else:
        mcp.run()


if __name__ == "__main__":
    main()
