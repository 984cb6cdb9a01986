"""Test and benchmark controls under /_sandbox/ (no auth; not part of the vendor API)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .models import Message, fmt_iso
from .params import ApiError, Params
from .phones import normalise_phone, phone_key
from .state import EmulatorState
from .webhook import WebhookSender

CONTROL_PATH = "/_sandbox"

ControlHandler = Callable[[Params], Awaitable[dict[str, Any]]]


class Controls:
    def __init__(self, state: EmulatorState, webhooks: WebhookSender) -> None:
        self.state = state
        self.webhooks = webhooks

    async def config(self, params: Params) -> dict[str, Any]:
        config = self.state.config
        if params.has("token_lifetime"):
            config.token_lifetime = params.positive_int("token_lifetime", config.token_lifetime)
        if params.has("webhook_url"):
            config.webhook_url = params.text("webhook_url")
        if params.has("webhook_secret"):
            config.webhook_secret = params.text("webhook_secret")
        if params.has("search_matches_tokens"):
            config.search_matches_tokens = params.flag("search_matches_tokens") is not False
        return config.to_wire()

    async def expire_tokens(self, params: Params) -> dict[str, Any]:
        return {"expired": self.state.tokens.expire_access()}

    async def revoke_refresh_tokens(self, params: Params) -> dict[str, Any]:
        return {"revoked": self.state.tokens.revoke_refresh()}

    async def faults(self, params: Params) -> dict[str, Any]:
        payload = {k: params.raw(k) for k in ("latency_ms", "error_rate", "rules") if params.has(k)}
        try:
            self.state.faults.configure(payload)
        except ValueError as exc:
            raise ApiError(400, f"invalid faults: {exc}") from None
        return self.state.faults.to_wire()

    async def show_faults(self, params: Params) -> dict[str, Any]:
        return self.state.faults.to_wire()

    async def clear_faults(self, params: Params) -> dict[str, Any]:
        self.state.faults.clear()
        return self.state.faults.to_wire()

    async def stats(self, params: Params) -> dict[str, Any]:
        return self.state.stats_wire()

    async def reset_stats(self, params: Params) -> dict[str, Any]:
        self.state.stats.clear()
        return self.state.stats_wire()

    async def sent(self, params: Params) -> dict[str, Any]:
        token = params.text("prospect_token")
        records = [r for r in self.state.sent if token is None or r.prospect_token == token]
        return {"data": [r.to_wire() for r in records]}

    async def templates(self, params: Params) -> dict[str, Any]:
        return {"data": list(self.state.templates.values())}

    async def reset(self, params: Params) -> dict[str, Any]:
        if params.flag("full"):
            self.state.reset_everything()
        else:
            self.state.reseed()
        return {"status": "reset", "contacts": len(self.state.contacts)}

    async def inbound(self, params: Params) -> dict[str, Any]:
        """Simulate a WhatsApp message from a customer: opens the window, fires the webhook."""
        text = params.required("text")
        state = self.state
        token = params.text("prospect_token")
        if token is not None:
            contact = state.by_token.get(token)
            if contact is None:
                raise ApiError(400, "unknown prospect_token")
            phone = contact.contact
        else:
            try:
                phone = normalise_phone(params.required("contact"))
            except ValueError as exc:
                raise ApiError(400, f"invalid contact: {exc}") from None
            contact = state.by_phone.get(phone_key(phone))
        if contact is not None:
            state.append_message(contact, Message(state.clock(), text, "inbound"))
        name = params.text("name") or (contact.name if contact else "")
        result: dict[str, Any] = {
            "delivered": False,
            "status": None,
            "error": None,
            "prospect_token": contact.prospect_token if contact else None,
        }
        url = state.config.webhook_url
        if params.flag("deliver") is False:
            return result
        if url is None:
            return {**result, "error": "no webhook_url configured"}
        payload = {
            "event": "whatsapp_message_received",
            # Wall-clock time: the receiver compares it with its own clock.
            "timestamp": fmt_iso(datetime.now(UTC)),
            "data": {
                "contact": phone,
                "name": name,
                "direction": "inbound",
                "message": {"type": "text", "text": text},
            },
        }
        delivery = await self.webhooks.deliver(url, state.config.webhook_secret, payload)
        return {**result, **delivery.to_wire()}

    def endpoint(self, handler: ControlHandler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                return JSONResponse(await handler(await Params.from_request(request)))
            except ApiError as exc:
                return JSONResponse({"error": exc.message}, status_code=exc.status)

        return run

    def routes(self) -> list[Route]:
        def route(path: str, handler: ControlHandler, methods: list[str]) -> Route:
            return Route(f"{CONTROL_PATH}{path}", self.endpoint(handler), methods=methods)

        return [
            route("/config", self.config, ["GET", "POST"]),
            route("/expire_tokens", self.expire_tokens, ["POST"]),
            route("/revoke_refresh_tokens", self.revoke_refresh_tokens, ["POST"]),
            route("/faults", self.faults, ["POST"]),
            route("/faults", self.show_faults, ["GET"]),
            route("/faults", self.clear_faults, ["DELETE"]),
            route("/stats", self.stats, ["GET"]),
            route("/stats/reset", self.reset_stats, ["POST"]),
            route("/sent", self.sent, ["GET"]),
            route("/templates", self.templates, ["GET"]),
            route("/inbound", self.inbound, ["POST"]),
            route("/reset", self.reset, ["POST"]),
        ]
