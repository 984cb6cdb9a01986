"""The ``whatsapp_message_received`` webhook payload as OutPerform documents it, checked.

Apart from the receiver (``webhook.py``), whose routes exist from start-up: pydantic builds
these models on import (about 2 ms, python -X importtime), so they are imported with the first
webhook instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .. import phones
from ..store.inbox import NewEvent

MIN_YEAR, MAX_YEAR = 2000, 2100  # a message time outside these is a sender's bug


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Annotated[str, Field(min_length=1, max_length=40)] = "text"
    text: str | None = None


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore")
    contact: Annotated[str, Field(min_length=1, max_length=40)]
    name: str | None = None
    direction: Literal["inbound", "outbound"] = "inbound"
    message: _Message

    @field_validator("name")
    @classmethod
    def _short_name(cls, value: str | None) -> str | None:
        # A customer-chosen profile name: keep the message even when the name is absurdly long.
        return value[:200] if value else None

    @field_validator("contact", mode="before")
    @classmethod
    def _phone(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            cleaned = value.strip().replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
            digits = cleaned[1:] if cleaned.startswith("+") else cleaned
            if not (digits.isascii() and digits.isdigit() and 6 <= len(digits) <= 20):
                raise ValueError("must be a phone number (digits, optional leading +)")
        return value


class WebhookEvent(BaseModel):
    """The ``whatsapp_message_received`` payload, as documented by OutPerform."""

    model_config = ConfigDict(extra="ignore")
    event: str
    timestamp: datetime
    data: _Data

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # The documented format ends in Z; a timestamp without a zone is read as UTC.
        try:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:  # e.g. year 1 with a positive offset
            raise ValueError("out of range") from None
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise ValueError(f"must be a time between the years {MIN_YEAR} and {MAX_YEAR}")
        return value

    def to_new_event(self, country: str) -> NewEvent:
        message = self.data.message
        text = message.text or ""
        return NewEvent(
            phone=phones.key(self.data.contact, country),
            name=self.data.name or None,
            kind=message.type,
            text=text,
            sent_at=self.timestamp,
        )
