"""Pydantic models of what the API sends and takes, parsed tolerantly and normalised.

The real API returns numbers as strings, bare ``YYYY-MM-DD HH:MM:SS`` timestamps (UTC),
optional fields that are sometimes missing, and lists either bare or wrapped in ``{"data": [...]}``.
Models here accept all of that and expose one clean shape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, field_validator


def _to_utc(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"not a timestamp: {value!r}") from exc
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _to_bool(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes"}:
            return True
        if lowered in {"0", "false", "no", ""}:
            return False
    if isinstance(value, int) and not isinstance(value, bool):
        return bool(value)
    return value


def _none_if_blank(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _int_to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Timestamp = Annotated[datetime, BeforeValidator(_to_utc)]
NumStr = Annotated[str, BeforeValidator(_int_to_str)]  # ids and phone numbers arrive as numbers or strings
LooseBool = Annotated[bool, BeforeValidator(_to_bool)]
Sentiment = Literal["positive", "negative", "neutral"]
Direction = Literal["inbound", "outbound"]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class Contact(_Wire):
    token: str = Field(validation_alias=AliasChoices("prospect_token", "token"))
    name: str = ""
    phone: NumStr = Field(validation_alias=AliasChoices("contact", "phone"))
    email: Annotated[str | None, BeforeValidator(_none_if_blank)] = None
    # ASSUMPTION (README, Assumptions): contact records carry labels. Opt-out never rests on them alone.
    labels: list[str] = []
    created_at: Annotated[Timestamp | None, BeforeValidator(_none_if_blank)] = None

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            return [item.get("name", "") if isinstance(item, dict) else str(item) for item in value]
        return value


class ContactPage(_Wire):
    items: list[Contact]
    page: int
    limit: int
    total: int | None = None

    @property
    def has_more(self) -> bool:
        if self.total is not None:
            return self.page * self.limit < self.total
        return len(self.items) >= self.limit


class Label(_Wire):
    name: str = Field(validation_alias=AliasChoices("name", "label", "label_name"))
    id: NumStr | None = Field(None, validation_alias=AliasChoices("id", "label_id"))
    contacts: int | None = Field(None, validation_alias=AliasChoices("contacts", "count"))


class Message(_Wire):
    timestamp: Timestamp
    text: str = ""
    direction: Direction
    type: str = "text"

    @field_validator("direction", mode="before")
    @classmethod
    def _direction(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("text", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return "" if value is None else value


def _messages(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, dict):  # a single message not wrapped in a list
        return [value]
    return value


def _in_order(messages: list[Message]) -> list[Message]:
    return sorted(messages, key=lambda m: m.timestamp)


# A "message" array (or a lone message object) as a list in time order, oldest first.
Messages = Annotated[list[Message], BeforeValidator(_messages), AfterValidator(_in_order)]


class Conversation(_Wire):
    token: str = Field(validation_alias=AliasChoices("prospect_token", "token"))
    name: str | None = None
    phone: str | None = Field(None, validation_alias=AliasChoices("contact", "phone"))
    messages: Messages = Field([], validation_alias=AliasChoices("message", "messages"))

    @property
    def last_inbound_at(self) -> datetime | None:
        inbound = [m.timestamp for m in self.messages if m.direction == "inbound"]
        return max(inbound) if inbound else None


class ChatbotConversation(_Wire):
    id: NumStr
    token: str | None = Field(None, validation_alias=AliasChoices("prospect_token", "token"))
    name: str | None = None
    phone: str | None = Field(None, validation_alias=AliasChoices("contact", "phone"))
    sentiment: Annotated[Sentiment | None, BeforeValidator(_none_if_blank)] = None
    concluded: LooseBool = False
    started_at: Annotated[Timestamp | None, BeforeValidator(_none_if_blank)] = None
    ended_at: Annotated[Timestamp | None, BeforeValidator(_none_if_blank)] = None
    summary: str | None = None
    messages: Messages = Field([], validation_alias=AliasChoices("message", "messages"))

    @field_validator("sentiment", mode="before")
    @classmethod
    def _sentiment(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class SendResult(_Wire):
    message_id: NumStr | None = Field(None, validation_alias=AliasChoices("message_id", "id", "messageId"))
    status: str = "success"


class NewContact(BaseModel):
    """What ``create_contact`` sends."""

    name: str
    phone: str
    email: str | None = None
    labels: list[str] = []


class TokenGrant(_Wire):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105
    expires_in: float = 3600


class LoginGrant(_Wire):
    refresh_token: str
