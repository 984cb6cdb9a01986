"""The webhook receiver: ``POST /webhooks/outperform/<secret>`` (or the secret in ``X-Webhook-Secret``).

Order of checks: secret (before the body is read), size, JSON, shape, event type. Each refusal is
a clear 4xx with a one-line reason and is counted; an accepted event is answered 200 only after
it is committed. If storing fails or takes too long the answer is 503, so OutPerform delivers it
again (duplicates are recognised; ASSUMPTION: that OutPerform redelivers after a 503 is not on
its page, so a lost event is only as safe as that). Nothing here logs a URL, a header or a body: the URL carries
the secret and the body is customer data.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..bodies import BodyTooLarge, read_capped
from .service import InboxService, InboxUnavailable

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/outperform"
EVENT_TYPE = "whatsapp_message_received"
SECRET_HEADER = "x-webhook-secret"  # noqa: S105 - a header name


def _answer(code: int, /, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=code)


def _refuse(inbox: InboxService, counter: str, status: int, reason: str) -> JSONResponse:
    setattr(inbox.stats, counter, getattr(inbox.stats, counter) + 1)
    log.warning("webhook refused (%d): %s", status, reason)
    return _answer(status, error=reason)


def _authorised(request: Request, secret: str) -> bool | None:
    """True/False for a presented secret, None when none was presented.

    If OutPerform ever documents a request signature, its HMAC check belongs here, beside the secret.
    """
    given = request.path_params.get("secret") or request.headers.get(SECRET_HEADER)
    if not given:
        return None
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), secret.encode())


def _has_lone_surrogate(value: Any) -> bool:
    """JSON's \\uD800 escapes parse into text no UTF-8 store can hold: refuse them up front."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in err["loc"]) or "body"
    return f"{where}: {err['msg']}"


def make_handler(inbox: InboxService, secret: str) -> Any:
    limit = inbox.settings.webhook_max_bytes

    async def receive(request: Request) -> Response:
        authorised = _authorised(request, secret)
        if authorised is None:
            return _refuse(inbox, "unauthorized", 401, "missing webhook secret")
        if not authorised:
            return _refuse(inbox, "unauthorized", 403, "wrong webhook secret")
        try:
            body = await read_capped(request, limit, None)
        except ClientDisconnect:
            return _answer(400, error="client disconnected")
        except BodyTooLarge:
            return _refuse(inbox, "too_large", 413, f"body larger than {limit} bytes")
        try:
            raw = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _refuse(inbox, "malformed", 400, f"malformed JSON: {exc.__class__.__name__}")
        except RecursionError:
            return _refuse(inbox, "malformed", 400, "malformed JSON: nested too deeply")
        if _has_lone_surrogate(raw):
            return _refuse(inbox, "malformed", 400, "malformed JSON: a string holds a lone surrogate (invalid Unicode)")
        if not isinstance(raw, dict):
            return _refuse(inbox, "invalid", 422, "body must be a JSON object")
        if raw.get("event") != EVENT_TYPE:
            kind = raw.get("event")
            shown = kind[:60] if isinstance(kind, str) else type(kind).__name__
            return _refuse(inbox, "unknown_event", 422, f"unsupported event type {shown!r}; expected {EVENT_TYPE}")
        from .payload import WebhookEvent  # on the first webhook: see payload.py

        try:
            event = WebhookEvent.model_validate(raw)
        except ValidationError as exc:
            return _refuse(inbox, "invalid", 422, f"invalid payload: {_first_error(exc)}")
        if event.data.direction != "inbound":
            inbox.stats.ignored += 1
            return _answer(200, status="ignored", reason="only inbound messages are kept")
        if event.data.message.type == "text" and event.data.message.text is None:
            return _refuse(inbox, "invalid", 422, "invalid payload: data.message.text: required for a text message")
        try:
            stored = await inbox.ingest(event.to_new_event(inbox.country))
        except InboxUnavailable as exc:
            inbox.stats.failed += 1
            log.error("webhook event not stored: %s", exc)
            return _answer(503, error="event not stored, deliver it again", retry=True)
        if stored.duplicate:
            inbox.stats.duplicates += 1
            return _answer(200, status="duplicate", id=stored.id)
        inbox.stats.stored += 1
        return _answer(200, status="stored", id=stored.id)

    async def guarded(request: Request) -> Response:
        try:
            return await receive(request)
        except Exception:  # a bug here must cost one 500, never the process or a traceback to the caller
            inbox.stats.failed += 1
            log.exception("webhook handler failed")
            return _answer(500, error="internal error")

    return guarded


def webhook_routes(inbox: InboxService) -> Sequence[BaseRoute]:
    """The receiver's routes: none unless a secret is configured."""
    if inbox.settings.webhook_secret is None:
        return []
    handler = make_handler(inbox, inbox.settings.webhook_secret.get_secret_value())
    return [
        Route(f"{WEBHOOK_PATH}/{{secret}}", handler, methods=["POST"]),
        Route(WEBHOOK_PATH, handler, methods=["POST"]),
    ]
