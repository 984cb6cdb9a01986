"""Throwaway MCP server used to prove the external CI checks in .ci/ (conformance + Inspector CLI).

Usage:
    python tests/external/toy_server.py stdio
    python tests/external/toy_server.py http PORT [--stateless] [--json-response] [--host HOST]

If TOY_BEARER_TOKEN is set in the environment, the HTTP endpoint requires
``Authorization: Bearer $TOY_BEARER_TOKEN`` (the token never appears on argv).
"""

from __future__ import annotations

import hmac
import json
import os
import sys
from typing import Annotated

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

ITEMS: dict[str, dict[str, str]] = {
    "a1": {"id": "a1", "label": "apple"},
    "b2": {"id": "b2", "label": "banana"},
}


class Greeting(BaseModel):
    message: str
    length: int


class ItemPage(BaseModel):
    items: list[dict[str, str]]
    total: int


class _StaticTokenVerifier:
    def __init__(self, token: str) -> None:
        self._token = token

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token, self._token):
            return AccessToken(token=token, client_id="ci", scopes=["toy"])
        return None


def build_server() -> MCPServer:
    token = os.environ.get("TOY_BEARER_TOKEN")
    auth_kwargs: dict[str, object] = {}
    if token:
        auth_kwargs = {
            "token_verifier": _StaticTokenVerifier(token),
            "auth": AuthSettings(issuer_url="https://auth.invalid", resource_server_url=None, required_scopes=["toy"]),
        }
    mcp = MCPServer(
        name="toy",
        version="0.0.1",
        instructions="Toy server for CI external checks.",
        log_level="WARNING",
        **auth_kwargs,  # type: ignore[arg-type]
    )

    @mcp.tool(title="Greet", annotations=READ_ONLY)
    def greet(name: Annotated[str, Field(description="Who to greet")]) -> Greeting:
        """Return a greeting for NAME."""
        if name == "boom":
            raise ToolError("greet refused: boom")
        msg = f"Hello, {name}!"
        return Greeting(message=msg, length=len(msg))

    @mcp.tool(title="List items", annotations=READ_ONLY)
    def list_items(
        search: Annotated[str | None, Field(description="Substring filter on label")] = None,
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
    ) -> ItemPage:
        """List the toy items."""
        found = [i for i in ITEMS.values() if search is None or search in i["label"]]
        return ItemPage(items=found[:limit], total=len(found))

    @mcp.resource("toy://info", name="info", mime_type="application/json", description="Server info")
    def info() -> str:
        return json.dumps({"name": "toy", "items": len(ITEMS)})

    @mcp.resource("toy://items/{item_id}", name="item", mime_type="application/json", description="One item")
    def item(item_id: str) -> dict[str, str]:
        if item_id not in ITEMS:
            raise ResourceNotFoundError(f"no item {item_id}")
        return ITEMS[item_id]

    @mcp.prompt(title="Describe item")
    def describe_item(item_id: str = Field(description="Item id")) -> str:
        """Ask the model to describe one item."""
        return f"Describe toy item {item_id} in one sentence."

    return mcp


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"stdio", "http"}:
        print(__doc__, file=sys.stderr)
        return 2
    mcp = build_server()
    if argv[0] == "stdio":
        mcp.run()
        return 0
    port = int(argv[1]) if len(argv) > 1 else 8765
    # --host 0.0.0.0 turns the SDK's DNS-rebinding protection off (negative test).
    host = argv[argv.index("--host") + 1] if "--host" in argv else "127.0.0.1"
    mcp.run(
        "streamable-http",
        host=host,
        port=port,
        streamable_http_path="/mcp",
        stateless_http="--stateless" in argv,
        json_response="--json-response" in argv,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
