"""The approval page reads no unbounded body: the link is checked before any byte of the body, the
body is capped while it streams, and a body that trickles in is cut off. Driven at the ASGI level
so the test sees exactly how much the handler pulled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from starlette.applications import Starlette

from outperform_mcp.server.messaging.approval_page import approval_routes

from .guard_harness import guarded, people
from .support import call

pytestmark = pytest.mark.anyio

BROWSER = [(b"sec-fetch-site", b"same-origin"), (b"host", b"testserver")]
CHUNK = b"x" * 65_536


class Body:
    """An ASGI receive() that hands out chunks of a huge (or never-ending) body and counts them."""

    def __init__(self, chunks: int, *, stall: bool = False, chunk: bytes = CHUNK) -> None:
        self.chunk = chunk
        self.left = chunks
        self.pulled = 0
        self.stall = stall

    async def __call__(self) -> dict[str, Any]:
        if self.stall and self.pulled:
            await anyio.sleep_forever()
        self.pulled += 1
        self.left -= 1
        return {"type": "http.request", "body": self.chunk, "more_body": self.left > 0}


async def post(app: Starlette, path: str, body: Body) -> int:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": BROWSER,  # no content-length: the size is only known by reading
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
        "http_version": "1.1",
    }
    await app(scope, body, send)
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


async def test_page_checks_the_link_before_reading_and_caps_the_body(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with guarded(emulator, tmp_path) as (server, deps), Client(server) as c:
        deps.public_url = "http://testserver"
        out = await call(c, "send_template", {"tokens": [p.aisha], "template": "holiday_greetings_v1"})
        path = out["approval_url"].removeprefix("http://testserver")
        app = Starlette(routes=list(approval_routes(deps, body_timeout=0.5)))

        wrong = Body(5000)  # ~300 MiB on offer
        assert await post(app, path[:-4] + "AAAA", wrong) == 404
        assert wrong.pulled == 0  # a wrong link reads nothing

        huge = Body(5000)
        assert await post(app, path, huge) == 413
        assert huge.pulled == 1  # cut off at the first chunk past the cap

        slow = Body(2, stall=True, chunk=b"decision=appr")  # then nothing more
        with anyio.fail_after(5):
            assert await post(app, path, slow) == 408
        status = await call(c, "list_sends", {"approval_id": out["approval_id"]})
    assert [i["status"] for i in status["items"]] == ["prepared"]  # still pending, nothing sent
