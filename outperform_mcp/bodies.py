"""Reading a request body within bounds: a size cap enforced while it streams, and a deadline.

A shared leaf (it imports nothing of the package): the approval page (server) and the webhook
receiver (inbox) both read bodies through it.
"""

from __future__ import annotations

import anyio
from starlette.requests import Request


class BodyTooLarge(Exception):
    pass


async def read_capped(request: Request, limit: int, seconds: float | None) -> bytes:
    """The body, refused with ``BodyTooLarge`` past ``limit`` bytes (declared or streamed) and with
    ``TimeoutError`` when it has not fully arrived within ``seconds`` (None: no deadline)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    with anyio.fail_after(seconds):
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
    return b"".join(chunks)
