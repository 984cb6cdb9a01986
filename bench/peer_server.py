"""The peer: the same read endpoints served by FastMCP's ``from_openapi`` generator.

``build_peer(base_url, token)`` returns the FastMCP server for in-process use. Run as a script it
serves stdio (default) or Streamable HTTP (``--http --port N``), reading ``PEER_BASE_URL`` and
``PEER_ACCESS_TOKEN`` from the environment; the benchmark logs in to the emulator and passes a
token, because an OpenAPI-generated server has no OAuth login flow of its own.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parent / "openapi.json"


def load_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return spec


def build_peer(base_url: str, token: str) -> Any:
    import httpx2
    from fastmcp import FastMCP

    http = httpx2.AsyncClient(
        base_url=base_url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=30,
        limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=1000),
    )
    return FastMCP.from_openapi(openapi_spec=load_spec(), client=http, name="outperform-openapi")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    peer = build_peer(os.environ["PEER_BASE_URL"], os.environ["PEER_ACCESS_TOKEN"])
    if args.http:
        peer.run(transport="http", host="127.0.0.1", port=args.port, show_banner=False, log_level="WARNING")
    else:
        peer.run(show_banner=False, log_level="WARNING")


if __name__ == "__main__":
    main()
