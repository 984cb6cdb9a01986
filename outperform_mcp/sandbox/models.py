"""In-memory records and their wire (JSON) shapes.

Wire shapes mirror the vendor's loosely typed PHP-style API: counts and ids travel as
strings and timestamps as naive "YYYY-MM-DD HH:MM:SS" in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Direction = Literal["inbound", "outbound"]
Sentiment = Literal["positive", "negative", "neutral"]
SendKind = Literal["session", "template"]

SENTIMENTS: tuple[Sentiment, ...] = ("positive", "negative", "neutral")


def fmt_ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Message:
    at: datetime
    text: str
    direction: Direction
    # ASSUMPTION: the API marks a template send "template" in a thread (the vendor page shows only "text").
    type: str = "text"
    # Messages never change once stored, and strftime dominates list-call time, so the
    # wire dict is built once. Callers must treat it as read-only.
    _wire: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def to_wire(self) -> dict[str, Any]:
        if self._wire is None:
            self._wire = {
                "timestamp": fmt_ts(self.at),
                "text": self.text,
                "direction": self.direction,
                "type": self.type,
            }
        return self._wire


@dataclass(slots=True)
class Contact:
    prospect_token: str
    name: str
    contact: str
    email: str | None
    labels: list[str]
    created_at: datetime
    # Some vendor records lack the "email" key entirely rather than holding null.
    email_omitted: bool = False
    messages: list[Message] = field(default_factory=list)
    # Lower-cased name/email, precomputed because search runs on every list call.
    haystack: str = ""

    def __post_init__(self) -> None:
        self.haystack = f"{self.name}\n{self.email or ''}".lower()

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "prospect_token": self.prospect_token,
            "name": self.name,
            "contact": self.contact,
        }
        if not self.email_omitted:
            wire["email"] = self.email
        wire["labels"] = list(self.labels)
        wire["created_at"] = fmt_ts(self.created_at)
        return wire

    def last_inbound(self) -> datetime | None:
        for message in reversed(self.messages):
            if message.direction == "inbound":
                return message.at
        return None


@dataclass(slots=True)
class ChatbotConversation:
    id: str
    contact: Contact
    sentiment: Sentiment
    concluded: bool
    started_at: datetime
    ended_at: datetime | None
    summary: str
    messages: list[Message]

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prospect_token": self.contact.prospect_token,
            "name": self.contact.name,
            "contact": self.contact.contact,
            "sentiment": self.sentiment,
            "concluded": "1" if self.concluded else "0",
            "started_at": fmt_ts(self.started_at),
            "ended_at": fmt_ts(self.ended_at) if self.ended_at else None,
            "summary": self.summary,
            "message": [m.to_wire() for m in self.messages],
        }


@dataclass(slots=True, frozen=True)
class SentRecord:
    message_id: str
    kind: SendKind
    prospect_token: str
    contact: str
    text: str
    template_name: str | None
    template_parameter: str | None
    instance_id: str
    at: datetime

    def to_wire(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "kind": self.kind,
            "prospect_token": self.prospect_token,
            "contact": self.contact,
            "text": self.text,
            "template_name": self.template_name,
            "template_parameter": self.template_parameter,
            "instance_id": self.instance_id,
            "at": fmt_iso(self.at),
        }
