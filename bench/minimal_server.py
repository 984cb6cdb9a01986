"""The floor for a Python MCP server: a bare ``MCPServer``, run like ours.

``python bench/minimal_server.py`` serves stdio; ``--http --port N`` serves Streamable HTTP.

- ``wait`` sleeps ``ms`` milliseconds and answers "ok" (the SDK's own floor, no API call).
- ``search_contacts`` makes the same API call as ours (``GET contacts`` on ``FLOOR_BASE_URL`` with
  the bearer token in ``FLOOR_ACCESS_TOKEN``, over aiohttp like our API client) and returns the same
  payload (the same fields, as pydantic models, so the SDK builds and checks an outputSchema too).
  No retries, no token refresh, no error mapping: what any server must do, and nothing more.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from functools import partial
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel

mcp = MCPServer("minimal", log_level="WARNING")


class Contact(BaseModel):
    token: str
    name: str
    phone: str
    email: str | None = None
    labels: list[str] = []


class ContactList(BaseModel):
    items: list[Contact]
    page: int
    total: int | None = None
    next_page: int | None = None


@mcp.tool()
async def wait(ms: int = 0) -> str:
    """Sleep ms milliseconds, then answer ok."""
    if ms:
        await anyio.sleep(ms / 1000)
    return "ok"


_session: Any = None


def _labels(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v.get("name", "") if isinstance(v, dict) else str(v) for v in value]
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    return []


@mcp.tool()
async def search_contacts(search: str | None = None, limit: int = 20, page: int = 1) -> ContactList:
    """Find contacts by name, phone or email."""
    global _session
    import aiohttp

    if _session is None:
        _session = aiohttp.ClientSession(
            os.environ["FLOOR_BASE_URL"],
            headers={"Authorization": f"Bearer {os.environ['FLOOR_ACCESS_TOKEN']}", "Accept": "application/json"},
            connector=aiohttp.TCPConnector(limit=1000),
        )
    params = {"page": str(page), "limit": str(limit), **({"search": search} if search else {})}
    async with _session.get("contacts", params=params) as response:
        response.raise_for_status()
        payload = await response.json()
    items = [
        Contact(
            token=raw["prospect_token"],
            name=raw.get("name") or "",
            phone=str(raw["contact"]),
            email=raw.get("email") or None,
            labels=_labels(raw.get("labels")),
        )
        for raw in payload.get("data") or []
    ]
    total = payload.get("total")
    more = total is not None and page * limit < int(total)
    return ContactList(items=items, page=page, total=total, next_page=page + 1 if more else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    # The same event loop as ours (uvloop where it is installed), so the ratio compares servers, not loops.
    options = {"use_uvloop": importlib.util.find_spec("uvloop") is not None}
    if args.http:
        anyio.run(partial(mcp.run_streamable_http_async, host="127.0.0.1", port=args.port), backend_options=options)
    else:
        anyio.run(mcp.run_stdio_async, backend_options=options)


if __name__ == "__main__":
    main()
