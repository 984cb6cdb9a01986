"""Header values reach the app trimmed, whichever HTTP parser uvicorn picked (httptools keeps
trailing blanks; the SDK then refused a valid Mcp-Name header with a 400)."""

from __future__ import annotations

from typing import Any

import pytest

from outperform_mcp.server.runtime import trimmed_headers

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("raw", "seen"),
    [
        (b"search_contacts", b"search_contacts"),
        (b"search_contacts  ", b"search_contacts"),
        (b"\t search_contacts \t", b"search_contacts"),
        (b"a b", b"a b"),  # blanks inside a value stay
        (b"", b""),
    ],
)
async def test_header_values_are_trimmed(raw: bytes, seen: bytes) -> None:
    got: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        got["headers"] = scope["headers"]

    async def nothing() -> Any:
        return {}

    async def ignore(message: Any) -> None:
        return None

    await trimmed_headers(app)({"type": "http", "headers": [(b"mcp-name", raw)]}, nothing, ignore)
    assert got["headers"] == [(b"mcp-name", seen)]


async def test_other_scopes_pass_untouched() -> None:
    scope: dict[str, Any] = {"type": "lifespan"}
    got: list[Any] = []

    async def app(s: Any, receive: Any, send: Any) -> None:
        got.append(s)

    async def nothing() -> Any:
        return {}

    async def ignore(message: Any) -> None:
        return None

    await trimmed_headers(app)(scope, nothing, ignore)
    assert got == [scope]
