"""Typed async client for the OutPerform Conversation API (knows nothing of MCP).

One shared HTTP session (``transport.HttpSession``, aiohttp). Tokens go through ``auth.with_bearer``
(one refresh at a time, one replay of a refused request). Reads are retried with backoff; sends
never are once the request may have reached the server.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from pydantic import BaseModel, ValidationError

from .. import phones
from ..settings import ApiSettings
from .auth import RefreshTokenFile, TokenManager, with_bearer
from .errors import (
    BadRequest,
    ConfigurationError,
    DuplicateRecord,
    InvalidTemplate,
    InvalidToken,
    MalformedResponse,
    NotFound,
    OutPerformError,
    RateLimited,
    SendOutcomeUnknown,
    SessionWindowClosed,
    Unauthorized,
    UpstreamUnavailable,
)
from .transport import Answer, HttpSession, NotSent, TransportError

if TYPE_CHECKING:
    from tenacity import RetryCallState

    # Imported where a response is parsed: pydantic builds the models on import (about 6 ms of
    # start-up, python -X importtime), and no request is made before the first tool call.
    from .models import (
        ChatbotConversation,
        Contact,
        ContactPage,
        Conversation,
        Label,
        NewContact,
        SendResult,
        Sentiment,
    )

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


class _Transient(Exception):
    """A read failure worth another attempt; unwrapped to the typed error when attempts run out."""

    def __init__(self, error: OutPerformError) -> None:
        self.error = error


def _retry_after(response: Answer) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error_text(response: Answer) -> str:
    try:
        body = json.loads(response.body)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])[:300]
    return f"HTTP {response.status}"


def error_for(response: Answer, operation: str) -> OutPerformError:
    """Map an API error answer to its typed exception."""
    status = response.status
    text = f"{operation}: {_error_text(response)}"
    if status == 400 and ("24-hour" in text or "session window" in text):
        return SessionWindowClosed(text)
    mapping: dict[int, type[OutPerformError]] = {
        400: BadRequest,
        401: Unauthorized,
        403: InvalidToken,
        404: NotFound,
        405: DuplicateRecord,
        422: InvalidTemplate,
    }
    if status == 429:
        return RateLimited(text, retry_after=_retry_after(response))
    if status in mapping:
        return mapping[status](text)
    if status >= 500:
        return UpstreamUnavailable(text, status=status)
    return BadRequest(text, status=status)


def _data(payload: Any) -> Any:
    return payload.get("data", payload) if isinstance(payload, dict) else payload


def _as_list(payload: Any, operation: str) -> list[Any]:
    items = _data(payload)
    if items is None:
        return []
    if isinstance(items, dict):  # a single record where a list was expected
        return [items]
    if not isinstance(items, list):
        raise MalformedResponse(f"{operation}: expected a list of records")
    return items


def _parse(model: type[M], raw: Any, operation: str) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "record"
        raise MalformedResponse(f"{operation}: unreadable {model.__name__} ({where})") from None


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class OutPerformClient:
    """``async with OutPerformClient(settings) as api: await api.list_contacts()``."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        persist_tokens: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        missing = settings.missing()
        if missing:
            raise ConfigurationError(f"missing settings: {', '.join(missing)}")
        assert settings.client_id is not None
        assert settings.client_secret is not None
        self.settings = settings
        self._sleep = sleep  # the backoff between read attempts (tests record it instead of waiting)
        self._base = settings.base_url.rstrip("/") + "/"
        # Opened on first use: start-up never needs it.
        self._http = HttpSession(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            max_connections=settings.max_connections,
            headers={"Accept": "application/json", "User-Agent": "outperform-mcp/0.1"},
        )
        persist = settings.persist_refresh_token if persist_tokens is None else persist_tokens
        token_file = (
            RefreshTokenFile(
                settings.data_dir / "refresh_token.json", owner=f"{settings.base_url}|{settings.client_id}"
            )
            if persist
            else None
        )
        self.tokens = TokenManager(
            self._oauth_get,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            refresh_margin=settings.refresh_margin,
            token_file=token_file,
            clock=clock,
        )

    async def __aenter__(self) -> OutPerformClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(
        self, method: str, path: str, *, params: Mapping[str, str] | None, body: Any, token: str | None
    ) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else None
        return await self._http.send(method, self._base + path.lstrip("/"), params=params, json=body, headers=headers)

    async def _request(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Any = None, auth: bool = True
    ) -> Answer:
        if not auth:
            return await self._send(method, path, params=params, body=body, token=None)

        async def send(token: str) -> Answer:
            return await self._send(method, path, params=params, body=body, token=token)

        return await with_bearer(self.tokens, send)

    def _scrub(self, error: OutPerformError) -> OutPerformError:
        for secret in self.tokens.secrets():
            if secret in error.message:
                error.message = error.message.replace(secret, "***")
                error.args = (str(error),)
        return error

    # -- transport ---------------------------------------------------------------------------

    async def _oauth_get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        payload = await self._read(path, params, authenticated=False)
        if not isinstance(payload, dict):
            raise MalformedResponse(f"{path}: expected a JSON object")
        return payload

    async def _read(self, path: str, params: Mapping[str, str], *, authenticated: bool = True) -> Any:
        """GET with bounded retries on transport errors, 429 and 5xx."""
        # Imported here: about 10 ms that start-up does not need.
        from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, stop_after_delay

        s = self.settings

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            backoff = min(8.0, 0.25 * 2 ** (state.attempt_number - 1)) * (0.5 + random.random())
            if isinstance(exc, _Transient) and isinstance(exc.error, RateLimited) and exc.error.retry_after:
                backoff = max(backoff, exc.error.retry_after)
            return float(min(backoff, s.retry_max_seconds))

        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(s.retry_attempts) | stop_after_delay(s.retry_max_seconds),
                wait=wait,
                sleep=self._sleep,
                retry=retry_if_exception_type(_Transient),
                reraise=True,
            ):
                with attempt:
                    return await self._get_once(path, params, authenticated)
        except _Transient as exc:
            raise self._scrub(exc.error) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _get_once(self, path: str, params: Mapping[str, str], authenticated: bool) -> Any:
        # The real API has been seen reading list parameters from a JSON body on GET; send both.
        body = dict(params) if authenticated and params else None
        try:
            response = await self._request("GET", path, params=params, body=body, auth=authenticated)
        except TransportError as exc:
            raise _Transient(UpstreamUnavailable(f"{path}: {exc}")) from None
        if response.status == 429 or response.status >= 500:
            raise _Transient(error_for(response, path))
        if response.status >= 400:
            raise self._scrub(error_for(response, path))
        try:
            return json.loads(response.body)
        except ValueError:
            raise _Transient(MalformedResponse(f"{path}: the answer is not JSON")) from None

    async def _write(self, path: str, body: dict[str, Any], *, is_send: bool) -> Any:
        """POST once. For a send, a failure after the request may have been written is 'unknown'."""
        try:
            response = await self._request("POST", path, body=body)
        except NotSent as exc:
            raise UpstreamUnavailable(f"{path}: not sent, {exc}") from None
        except TransportError as exc:
            if is_send:
                raise SendOutcomeUnknown(f"{path}: connection failed after the request was sent") from exc
            raise UpstreamUnavailable(f"{path}: {exc}; the outcome is unknown") from None
        if response.status >= 400:
            error = self._scrub(error_for(response, path))
            # A 500 or 504 may come after the message went out; only 429/503 say it did not.
            if is_send and response.status >= 500 and response.status != 503:
                raise SendOutcomeUnknown(f"{error.message}: the server failed mid-request")
            raise error
        try:
            return json.loads(response.body)
        except ValueError:
            if is_send:
                raise SendOutcomeUnknown(f"{path}: the answer is not JSON") from None
            raise MalformedResponse(f"{path}: the answer is not JSON") from None

    # -- operations --------------------------------------------------------------------------

    async def check(self) -> None:
        """Obtain an access token now (verifies credentials)."""
        await self.tokens.access_token()

    async def list_contacts(
        self, *, search: str | None = None, label: str | None = None, page: int = 1, limit: int = 20
    ) -> ContactPage:
        from .models import Contact, ContactPage

        params = {"page": str(page), "limit": str(limit)}
        if search:
            params["search"] = search
        if label:
            params["label"] = label
        payload = await self._read("contacts", params)
        items = [_parse(Contact, raw, "contacts") for raw in _as_list(payload, "contacts")]
        meta = payload if isinstance(payload, dict) else {}
        total = meta.get("total")
        return ContactPage(
            items=items,
            page=_int(meta.get("page"), page),
            limit=_int(meta.get("limit"), limit),
            total=_int(total, len(items)) if total is not None else None,
        )

    async def find_by_phone(self, phone: str) -> Contact | None:
        """The contact with this number however either side writes it (``phones.same``), or None."""
        page = await self.list_contacts(search=phone, limit=10)
        return next((c for c in page.items if phones.same(c.phone, phone, self.settings.default_country)), None)

    async def get_contact(self, token: str) -> Contact | None:
        """Find one contact by token (the API has no single-contact read). ASSUMPTION: search matches
        tokens; if not, the conversation fallback here and guard.lookup's search by the number a
        contact was created with still find it."""
        from .models import Contact

        page = await self.list_contacts(search=token, limit=5)
        for contact in page.items:
            if contact.token == token:
                return contact
        conversations = await self.list_conversations(prospect_token=token, limit=1)
        for conv in conversations:
            if conv.token == token and conv.phone:
                match = await self.list_contacts(search=conv.phone, limit=5)
                for contact in match.items:
                    if contact.token == token:
                        return contact
                return Contact(token=token, name=conv.name or "", phone=conv.phone)
        return None

    async def create_contact(self, contact: NewContact) -> Contact:
        from .models import Contact

        body: dict[str, Any] = {"name": contact.name, "contact": contact.phone}
        if contact.email:
            body["email"] = contact.email
        if contact.labels:  # ASSUMPTION: POST /contacts takes labels
            body["labels"] = contact.labels
        payload = await self._write("contacts", body, is_send=False)
        return _parse(Contact, _data(payload), "contacts")

    # ASSUMPTION: the list, label, chatbot and send answers' shapes are not on the vendor's page;
    # they are parsed tolerantly (see _data, _as_list and the models).
    async def list_labels(self) -> list[Label]:
        from .models import Label

        payload = await self._read("labels", {})
        return [
            _parse(Label, {"name": raw} if isinstance(raw, str) else raw, "labels")
            for raw in _as_list(payload, "labels")
        ]

    async def list_conversations(
        self,
        *,
        prospect_token: str | None = None,
        start_date: date | None = None,
        end_date: date | None = None,
        page: int = 1,
        limit: int = 20,
    ) -> list[Conversation]:
        from .models import Conversation

        params = {"page": str(page), "limit": str(limit)}
        if prospect_token:
            params["prospect_token"] = prospect_token
        if start_date:
            params["start_date"] = start_date.isoformat()
        if end_date:
            params["end_date"] = end_date.isoformat()
        payload = await self._read("conversations", params)
        return [_parse(Conversation, raw, "conversations") for raw in _as_list(payload, "conversations")]

    async def list_chatbot_conversations(
        self,
        *,
        start_date: date | None = None,
        end_date: date | None = None,
        sentiment: Sentiment | None = None,
        concluded: bool | None = None,
        page: int = 1,
        limit: int = 20,
    ) -> list[ChatbotConversation]:
        from .models import ChatbotConversation

        params = {"page": str(page), "limit": str(limit)}
        if start_date:
            params["start_date"] = start_date.isoformat()
        if end_date:
            params["end_date"] = end_date.isoformat()
        if sentiment:
            params["sentiment"] = sentiment
        if concluded is not None:
            params["concluded"] = "1" if concluded else "0"
        path = self.settings.path_chatbot_conversations
        payload = await self._read(path, params)
        return [_parse(ChatbotConversation, raw, path) for raw in _as_list(payload, path)]

    def _instance(self, instance_id: str | None) -> str:
        chosen = instance_id or self.settings.instance_id
        if not chosen:
            raise ConfigurationError("no sending instance: pass instance_id or set OUTPERFORM_INSTANCE_ID")
        return chosen

    async def send_session_message(
        self, prospect_token: str, message: str, *, instance_id: str | None = None
    ) -> SendResult:
        from .models import SendResult

        body = {
            "prospect_token": prospect_token,
            "message": message,
            "instance_id": self._instance(instance_id),
        }
        payload = await self._write(self.settings.path_send_message, body, is_send=True)
        return _parse(SendResult, _data(payload), "send_message")

    async def send_template_message(
        self,
        prospect_token: str,
        template_name: str,
        parameters: list[str],
        *,
        instance_id: str | None = None,
    ) -> SendResult:
        from .models import SendResult

        bad = [p for p in parameters if "|" in p]
        if bad:
            raise BadRequest(f"template parameters cannot contain '|': {bad[0][:40]!r}")
        body = {
            "prospect_token": prospect_token,
            "template_name": template_name,
            "template_parameter": "|".join(parameters),
            "instance_id": self._instance(instance_id),
        }
        payload = await self._write(self.settings.path_send_template, body, is_send=True)
        return _parse(SendResult, _data(payload), "send_template")
