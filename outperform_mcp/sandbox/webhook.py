"""Outbound `whatsapp_message_received` webhook delivery."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx2

WEBHOOK_TIMEOUT_S = 10.0  # the vendor gives receivers 10 seconds to answer


@dataclass(frozen=True, slots=True)
class Delivery:
    delivered: bool
    status: int | None
    error: str | None

    def to_wire(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "status": self.status, "error": self.error}


class WebhookSender:
    """One pooled client, created lazily on the loop that first needs it."""

    def __init__(self) -> None:
        self._client: httpx2.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _get_client(self) -> httpx2.AsyncClient:
        loop = asyncio.get_running_loop()
        # A client is bound to its loop; an emulator re-served on a new loop needs a new one.
        if self._client is None or self._loop is not loop:
            self._client = httpx2.AsyncClient(timeout=WEBHOOK_TIMEOUT_S)
            self._loop = loop
        return self._client

    async def deliver(self, url: str, secret: str | None, payload: dict[str, Any]) -> Delivery:
        headers = {"X-Webhook-Secret": secret} if secret else {}
        try:
            response = await self._get_client().post(url, json=payload, headers=headers)
        except httpx2.HTTPError as exc:
            # The URL may embed the secret as a path segment, so it never goes into the message.
            detail = str(exc).replace(url, "<webhook_url>")
            if secret:
                detail = detail.replace(secret, "***")
            return Delivery(False, None, f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)
        ok = 200 <= response.status_code < 300
        return Delivery(ok, response.status_code, None if ok else f"webhook answered HTTP {response.status_code}")

    async def aclose(self) -> None:
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.aclose()
