"""The emulated vendor API (everything under BASE_PATH)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .models import SENTIMENTS, Contact, Message, fmt_ts
from .operations import BASE_PATH
from .params import ApiError, Params
from .phones import normalise_phone, phone_key
from .state import EmulatorState
from .templates import TemplateError, render_template, split_parameters

Handler = Callable[[Params], dict[str, Any]]


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)


def _page(items: list[Any], limit: int, page: int) -> list[Any]:
    start = (page - 1) * limit
    return items[start : start + limit]


class Api:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    # -- auth -------------------------------------------------------------------
    def authorize(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized")
        if not self.state.tokens.access_ok(token.strip()):
            raise ApiError(403, "invalid access token")

    def oauth_login(self, params: Params) -> dict[str, Any]:
        tokens = self.state.tokens
        if not tokens.credentials_ok(params.text("client_id"), params.text("client_secret")):
            raise ApiError(401, "invalid client credentials")
        return {"refresh_token": tokens.issue_refresh(), "client_id": tokens.client_id}

    def oauth_access(self, params: Params) -> dict[str, Any]:
        tokens = self.state.tokens
        refresh_token = params.text("refresh_token")
        if refresh_token is None:
            raise ApiError(401, "invalid refresh token")
        if params.text("client_id") != tokens.client_id:
            raise ApiError(401, "invalid client credentials")
        lifetime = self.state.config.token_lifetime
        pair = tokens.rotate(refresh_token, lifetime)
        if pair is None:
            raise ApiError(401, "invalid refresh token")
        access, refresh = pair
        return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": lifetime}

    # -- contacts and labels ----------------------------------------------------
    def list_contacts(self, params: Params) -> dict[str, Any]:
        limit, page = params.paging()
        found = self.state.find_contacts(params.text("label"), params.text("search"))
        return {
            "data": [c.to_wire() for c in _page(found, limit, page)],
            "total": str(len(found)),
            "page": str(page),
            "limit": str(limit),
        }

    def create_contact(self, params: Params) -> dict[str, Any]:
        name = params.required("name")
        try:
            phone = normalise_phone(params.required("contact"))
        except ValueError as exc:
            raise ApiError(400, f"invalid contact: {exc}") from None
        email = params.text("email")
        if email is not None and ("@" not in email or " " in email):
            raise ApiError(400, f"invalid email: {email!r}")
        if phone_key(phone) in self.state.by_phone:
            raise ApiError(405, "duplicate record: a contact with this number already exists")
        labels = list(dict.fromkeys(params.string_list("labels")))
        contact = self.state.add_contact(name, phone, email, labels)
        return {"data": contact.to_wire()}

    def list_labels(self, params: Params) -> dict[str, Any]:
        counts = self.state.label_counts
        return {
            "data": [
                {"id": label_id, "name": name, "contacts": str(counts.get(name, 0))}
                for name, label_id in self.state.label_ids.items()
            ]
        }

    # -- conversations ----------------------------------------------------------
    def list_conversations(self, params: Params) -> dict[str, Any]:
        limit, page = params.paging()
        start, end = params.date_range()
        found = self.state.conversations(start, end, params.text("prospect_token"))
        return {"data": [_conversation_wire(c, msgs) for c, msgs in _page(found, limit, page)]}

    def chatbot_conversations(self, params: Params) -> dict[str, Any]:
        limit, page = params.paging()
        start, end = params.date_range()
        sentiment = params.text("sentiment")
        if sentiment is not None:
            sentiment = sentiment.lower()
            if sentiment not in SENTIMENTS:
                raise ApiError(400, "invalid sentiment: expected positive, negative or neutral")
        found = self.state.chatbot_conversations(start, end, sentiment, params.flag("concluded"))
        return {"data": [c.to_wire() for c in _page(found, limit, page)]}

    # -- messaging --------------------------------------------------------------
    def _prospect(self, params: Params) -> Contact:
        contact = self.state.by_token.get(params.required("prospect_token"))
        if contact is None:
            raise ApiError(400, "unknown prospect_token")
        return contact

    def send_message(self, params: Params) -> dict[str, Any]:
        params.required("prospect_token")
        text = params.required("message")
        instance_id = params.required("instance_id")
        contact = self._prospect(params)
        if not self.state.window_open(contact):
            last = contact.last_inbound()
            if last is None:
                seen = "the contact has never sent an inbound message"
            else:
                seen = f"the contact's last inbound message was at {fmt_ts(last)}"
            raise ApiError(400, f"outside the 24-hour session window: {seen}; send an approved template instead")
        record = self.state.record_send(contact, "session", text, instance_id)
        return {"status": "success", "message_id": record.message_id}

    def send_template(self, params: Params) -> dict[str, Any]:
        params.required("prospect_token")
        name = params.required("template_name")
        instance_id = params.required("instance_id")
        raw_parameter = params.raw("template_parameter")
        if isinstance(raw_parameter, list):
            raw_parameter = "|".join(str(p) for p in raw_parameter)
        parameter = "" if raw_parameter is None else str(raw_parameter)
        contact = self._prospect(params)
        template = self.state.templates.get(name)
        if template is None:
            raise ApiError(422, f"invalid template: unknown template '{name}'")
        try:
            text = render_template(template, split_parameters(parameter))
        except TemplateError as exc:
            raise ApiError(422, f"invalid template: {exc}") from None
        record = self.state.record_send(contact, "template", text, instance_id, name, parameter)
        return {"status": "success", "message_id": record.message_id}

    # -- routing ----------------------------------------------------------------
    def endpoint(self, handler: Handler, *, auth: bool = True) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                if auth:
                    self.authorize(request)
                params = await Params.from_request(request)
                return JSONResponse(handler(params))
            except ApiError as exc:
                return error_response(exc)

        return run

    def routes(self) -> list[Route]:
        read = ["GET", "POST"]  # lenient: some HTTP stacks refuse bodies on GET
        return [
            Route(f"{BASE_PATH}/oauth_login", self.endpoint(self.oauth_login, auth=False), methods=read),
            Route(f"{BASE_PATH}/oauth_access", self.endpoint(self.oauth_access, auth=False), methods=read),
            Route(f"{BASE_PATH}/contacts", self.endpoint(self.list_contacts), methods=["GET"]),
            Route(f"{BASE_PATH}/contacts", self.endpoint(self.create_contact), methods=["POST"]),
            Route(f"{BASE_PATH}/labels", self.endpoint(self.list_labels), methods=read),
            Route(f"{BASE_PATH}/conversations", self.endpoint(self.list_conversations), methods=read),
            Route(f"{BASE_PATH}/chatbot_conversations", self.endpoint(self.chatbot_conversations), methods=read),
            Route(f"{BASE_PATH}/send_message", self.endpoint(self.send_message), methods=["POST"]),
            Route(f"{BASE_PATH}/send_template", self.endpoint(self.send_template), methods=["POST"]),
        ]


def _conversation_wire(contact: Contact, messages: list[Message]) -> dict[str, Any]:
    return {
        "prospect_token": contact.prospect_token,
        "name": contact.name,
        "contact": contact.contact,
        "last_message_at": fmt_ts(messages[-1].at),
        "message": [m.to_wire() for m in messages],
    }
