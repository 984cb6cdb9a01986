"""What a send is, exactly: the draft a tool asks for, the messages it becomes, and their digest.

The digest covers everything the human is shown and everything that goes to the API, so an
approval given for one payload can never release another.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

Kind = Literal["session", "template"]
WINDOW = timedelta(hours=24)


class GuardError(Exception):
    """The caller's request cannot be acted on as given; the message says how to fix it."""


def now_utc() -> datetime:
    return datetime.now(UTC)


def _sha256(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Draft:
    """What the caller asked for, already validated and cleaned."""

    kind: Kind
    tokens: tuple[str, ...]
    text: str | None = None
    template: str | None = None
    params: tuple[str, ...] = ()
    instance_id: str | None = None
    # Template parameters for some recipients instead of ``params``: (token, params) pairs.
    per_recipient: tuple[tuple[str, tuple[str, ...]], ...] = ()
    campaign: str | None = None  # the campaign name a send joins (a template batch always has one)

    def params_for(self, token: str) -> tuple[str, ...]:
        """This recipient's parameters before contact fields are filled in."""
        return dict(self.per_recipient).get(token, self.params)


@dataclass(frozen=True)
class Window:
    """WhatsApp's 24-hour rule: free text only while the customer's last message is < 24 h old."""

    last_inbound_at: datetime | None

    @property
    def closes_at(self) -> datetime | None:
        return self.last_inbound_at + WINDOW if self.last_inbound_at else None

    def is_open(self, now: datetime) -> bool:
        closes = self.closes_at
        return closes is not None and closes > now


@dataclass(frozen=True)
class Recipient:
    token: str
    name: str
    phone: str
    labels: tuple[str, ...]
    window: Window
    opt_out: str | None = None  # why this contact counts as opted out, if it does


@dataclass(frozen=True)
class Repeat:
    send_id: int
    status: str
    at: datetime


@dataclass(frozen=True)
class Item:
    """One message to one recipient, exactly as it will be sent."""

    seq: int
    recipient: Recipient
    text: str  # the exact text; for a template, the rendered body ("" when the body is unknown)
    content_key: str
    repeat: Repeat | None = None
    params: tuple[str, ...] = ()  # this recipient's template parameters, filled in


@dataclass(frozen=True)
class Refusal:
    code: str
    reason: str
    way_out: str
    token: str | None = None


@dataclass
class Plan:
    """A draft turned into messages, with the policy's verdict."""

    draft: Draft
    items: list[Item]
    allowed_because: list[str] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return payload_digest(self.draft, self.items)


def content_key(draft: Draft, token: str, params: tuple[str, ...] = ()) -> str:
    """Same message to the same contact (what counts as a repeat), whatever the batch or instance."""
    body: object = draft.text if draft.kind == "session" else [draft.template, list(params)]
    return _sha256(["content", draft.kind, token, body])


def payload_digest(draft: Draft, items: list[Item]) -> str:
    return digest_of(
        draft.kind,
        draft.instance_id,
        draft.template,
        [(i.recipient.token, i.recipient.name, i.recipient.phone, i.text, list(i.params)) for i in items],
    )


def digest_of(
    kind: str,
    instance_id: str | None,
    template: str | None,
    items: list[tuple[str, str, str, str, list[str]]],
) -> str:
    """Digest of a batch from its parts (token, name, phone, text, parameters per message), so the
    journal's stored rows can be checked against the digest the human approved."""
    return _sha256(
        {
            "kind": kind,
            "instance_id": instance_id,
            "template": template,
            "items": [{"token": t, "name": n, "phone": p, "text": x, "params": a} for t, n, p, x, a in items],
        }
    )
