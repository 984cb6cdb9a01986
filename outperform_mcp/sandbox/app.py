"""The emulator's ASGI app: vendor API + /_sandbox controls + fault injection.

Faults wrap the whole request because "drop" must close the connection without any
response, which plain ASGI cannot express. Uvicorn closes the transport without
writing anything when an app returns a non-None value; `_Dropped` is that value, and a
log filter hides the error line uvicorn would print for it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from .api import Api
from .controls import Controls
from .faults import FaultRule
from .operations import BASE_PATH, operation_for
from .state import EmulatorState
from .webhook import WebhookSender

__all__ = ["BASE_PATH", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "Emulator", "create_emulator"]

DEFAULT_CLIENT_ID = "sandbox-client"
DEFAULT_CLIENT_SECRET = "sandbox-secret"  # printed by the CLI, not a real secret  # noqa: S105

_CANNED: dict[str, tuple[int, dict[str, str]]] = {
    "429": (429, {"error": "too many requests"}),
    "500": (500, {"error": "internal server error"}),
    "503": (503, {"error": "service unavailable"}),
}
# Truncated JSON under a JSON content type: the nastiest realistic "malformed" answer.
_MALFORMED_BODY = b'{"data": [{"prospect_token": "'


class _Dropped:
    """Returned to the server to make it close the connection without a response."""

    def __repr__(self) -> str:
        return "<emulator fault: connection dropped>"


DROPPED = _Dropped()


class _HideDropped(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(arg is DROPPED for arg in args)


_drop_filter = _HideDropped()


class EmulatorApp(Starlette):
    def __init__(self, state: EmulatorState, webhooks: WebhookSender) -> None:
        self.emulator_state = state

        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            try:
                yield
            finally:
                await webhooks.aclose()

        super().__init__(
            routes=[*Api(state).routes(), *Controls(state, webhooks).routes()],
            exception_handlers={HTTPException: _http_error},
            lifespan=lifespan,
        )
        self.router.redirect_slashes = False
        logging.getLogger("uvicorn.error").addFilter(_drop_filter)  # idempotent: filters are a set-like list

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        # `Any` rather than None: returning DROPPED is how a drop reaches uvicorn.
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return None
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/")}
        operation = operation_for(scope["method"], scope["path"])
        if operation is None:
            await super().__call__(scope, receive, send)
            return None
        state = self.emulator_state
        state.stats[operation] += 1
        faults = state.faults
        if faults.latency_ms:
            await anyio.sleep(faults.latency_ms / 1000)
        rule = faults.pick(operation)
        if rule is None:
            await super().__call__(scope, receive, send)
            return None
        return await self._inject(rule, scope, receive, send)

    async def _inject(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> Any:
        if rule.kind == "drop":
            return DROPPED
        if rule.kind == "drop_after_write":
            return await self._drop_mid_response(scope, receive, send)
        if rule.kind == "malformed":
            await _send_raw(send, 200, _MALFORMED_BODY, b"application/json")
            return None
        status, body = _CANNED[rule.kind]
        extra = [(b"retry-after", rule.retry_after_header().encode())] if rule.kind == "429" else []
        await _send_raw(send, status, json.dumps(body).encode(), b"application/json", extra)
        return None

    async def _drop_mid_response(self, scope: Scope, receive: Receive, send: Send) -> Any:
        """Apply the operation, then cut the response off half way through its body."""
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        await super().__call__(scope, receive, capture)
        start = next(m for m in captured if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in captured if m["type"] == "http.response.body")
        await send(start)  # carries the full content-length, so the client expects more
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        return DROPPED


async def _send_raw(
    send: Send, status: int, body: bytes, content_type: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "not found" if exc.status_code == 404 else str(exc.detail).lower()
    return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


class Emulator:
    """One emulated OutPerform account: its state plus the ASGI app serving it."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.webhooks = WebhookSender()
        self.app: Starlette = EmulatorApp(state, self.webhooks)

    @property
    def client_id(self) -> str:
        return self.state.tokens.client_id

    @property
    def client_secret(self) -> str:
        return self.state.tokens.client_secret

    def reset(self, *, full: bool = False) -> None:
        """Reseed data; `full` also forgets tokens and restores the creation-time config."""
        if full:
            self.state.reset_everything()
        else:
            self.state.reseed()


def create_emulator(
    *,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    seed: int = 7,
    now: datetime | None = None,
    token_lifetime: int = 3600,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    seed_contacts: int = 300,
    seed_messages: int | None = None,
) -> Emulator:
    """``seed_contacts``/``seed_messages`` grow the seeded account (benchmarks); the defaults are the
    standard seed every test knows."""
    state = EmulatorState(
        client_id=client_id,
        client_secret=client_secret,
        seed=seed,
        now=now,
        token_lifetime=token_lifetime,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        seed_contacts=seed_contacts,
        seed_messages=seed_messages,
    )
    return Emulator(state)
