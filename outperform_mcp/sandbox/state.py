"""All mutable emulator state: seeded data, tokens, config, faults, stats and sent log.

Handlers run on one event loop and never await while mutating, so no locking is needed.
"""

from __future__ import annotations

import bisect
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from . import seed as seed_module
from .auth import TokenStore
from .faults import FaultPlan
from .models import ChatbotConversation, Contact, Message, SendKind, Sentiment, SentRecord
from .operations import OPERATIONS
from .phones import phone_key
from .seed_text import LABELS
from .templates import load_templates

SESSION_WINDOW = timedelta(hours=24)
_PHONE_NOISE = re.compile(r"[\s\-+().]")


@dataclass(slots=True)
class EmulatorConfig:
    token_lifetime: int
    webhook_url: str | None
    webhook_secret: str | None
    # ASSUMPTION (not on the vendor's page): ``search`` also matches a contact's token. Off, the
    # emulator behaves like an API whose search covers only name, phone and email.
    search_matches_tokens: bool = True

    def to_wire(self) -> dict[str, Any]:
        # The webhook secret is write-only: echoing it would put it in test logs.
        return {
            "token_lifetime": self.token_lifetime,
            "webhook_url": self.webhook_url,
            "webhook_secret": "***" if self.webhook_secret else None,
            "search_matches_tokens": self.search_matches_tokens,
        }


@dataclass(frozen=True, slots=True)
class SampleContacts:
    """The well-known seeded contacts (see `seed` for what each one is for)."""

    window_open: Contact  # Daniel Lee
    window_closed: Contact  # Aisha Rahman
    injection: Contact  # Mallory Tan
    injection_target: Contact  # Kevin Ong, +60123456789
    bidi: Contact  # Hafiz Osman
    stop: Contact  # Farid Ismail
    unsubscribe: Contact  # Grace Lim


def default_now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


class EmulatorState:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        seed: int,
        now: datetime | None,
        token_lifetime: int,
        webhook_url: str | None,
        webhook_secret: str | None,
        seed_contacts: int = seed_module.CONTACT_COUNT,
        seed_messages: int | None = None,
    ) -> None:
        self.seed = seed
        self.seed_contacts = seed_contacts
        self.seed_messages = seed_messages
        self._fixed_now = _as_utc(now) if now else None
        self._initial_config = EmulatorConfig(token_lifetime, webhook_url, webhook_secret)
        self.config = EmulatorConfig(token_lifetime, webhook_url, webhook_secret)
        self.tokens = TokenStore(client_id, client_secret)
        self.faults = FaultPlan(seed)
        self.templates: dict[str, dict[str, Any]] = {t["name"]: t for t in load_templates()}
        # Never reset, so message ids stay unique across reseeds.
        self._message_counter = 100_000
        self.reseed()

    # -- lifecycle --------------------------------------------------------------
    def reseed(self) -> None:
        """Fresh seeded data, empty sent log, zero stats, no faults; tokens and config survive."""
        self._epoch_now = self._fixed_now or default_now()
        self._epoch_mono = time.monotonic()
        data = seed_module.generate(
            self.seed, self._epoch_now, contacts=self.seed_contacts, messages=self.seed_messages
        )
        self._rng = random.Random(f"{self.seed}:runtime")
        self.contacts: list[Contact] = []
        self.by_token: dict[str, Contact] = {}
        self.by_phone: dict[str, Contact] = {}
        self.label_ids: dict[str, str] = {name: str(i) for i, name in enumerate(LABELS, start=1)}
        self.label_counts: Counter[str] = Counter()
        for contact in data.contacts:
            self._index(contact)
        self._sort_contacts()
        self.chatbot: list[ChatbotConversation] = sorted(data.chatbot, key=lambda c: c.started_at, reverse=True)
        self._conversation_order: list[Contact] | None = None
        self.sent: list[SentRecord] = []
        self.stats: Counter[str] = Counter()
        self.faults.clear()

    def reset_everything(self) -> None:
        """Also forget every token and restore the config given at creation."""
        self.reseed()
        self.tokens.expire_access()
        self.tokens.revoke_refresh()
        initial = self._initial_config
        self.config = EmulatorConfig(initial.token_lifetime, initial.webhook_url, initial.webhook_secret)

    def clock(self) -> datetime:
        """Seed `now` advanced by real elapsed time, so seeded windows stay consistent."""
        return self._epoch_now + timedelta(seconds=time.monotonic() - self._epoch_mono)

    # -- contacts ---------------------------------------------------------------
    def _index(self, contact: Contact) -> None:
        self.contacts.append(contact)
        self.by_token[contact.prospect_token] = contact
        self.by_phone[phone_key(contact.contact)] = contact
        for label in contact.labels:
            if label not in self.label_ids:
                self.label_ids[label] = str(len(self.label_ids) + 1)
            self.label_counts[label] += 1

    def _sort_contacts(self) -> None:
        # Newest first; token breaks ties so order never depends on insertion.
        self.contacts.sort(key=lambda c: c.prospect_token)
        self.contacts.sort(key=lambda c: c.created_at, reverse=True)

    def add_contact(self, name: str, phone: str, email: str | None, labels: list[str]) -> Contact:
        token = f"{self._rng.getrandbits(128):032x}"
        while token in self.by_token:
            token = f"{self._rng.getrandbits(128):032x}"
        contact = Contact(token, name, phone, email, labels, self.clock())
        self._index(contact)
        self._sort_contacts()
        return contact

    def find_contacts(self, label: str | None, search: str | None) -> list[Contact]:
        result = self.contacts
        if label is not None:
            result = [c for c in result if label in c.labels]
        if search is not None:
            result = [c for c in result if _matches(c, search, tokens=self.config.search_matches_tokens)]
        return result

    # -- conversations ----------------------------------------------------------
    def append_message(self, contact: Contact, message: Message) -> None:
        messages = contact.messages
        if messages and message.at < messages[-1].at:
            bisect.insort(messages, message, key=lambda m: m.at)
        else:
            messages.append(message)
        self._conversation_order = None

    def conversations(
        self, start: datetime | None, end: datetime | None, prospect_token: str | None
    ) -> list[tuple[Contact, list[Message]]]:
        """Conversations with their messages inside [start, end), latest activity first."""
        if prospect_token is not None:
            contact = self.by_token.get(prospect_token)
            candidates = [contact] if contact else []
        else:
            candidates = self._conversations_by_recency()
        result: list[tuple[Contact, list[Message]]] = []
        for contact in candidates:
            messages = contact.messages
            if start is not None or end is not None:
                lo = bisect.bisect_left(messages, start, key=lambda m: m.at) if start else 0
                hi = bisect.bisect_left(messages, end, key=lambda m: m.at) if end else len(messages)
                messages = messages[lo:hi]
            if messages:
                result.append((contact, messages))
        if start is not None or end is not None:
            result.sort(key=lambda pair: (pair[1][-1].at, pair[0].prospect_token), reverse=True)
        return result

    def _conversations_by_recency(self) -> list[Contact]:
        if self._conversation_order is None:
            with_messages = [c for c in self.contacts if c.messages]
            with_messages.sort(key=lambda c: (c.messages[-1].at, c.prospect_token), reverse=True)
            self._conversation_order = with_messages
        return self._conversation_order

    def chatbot_conversations(
        self,
        start: datetime | None,
        end: datetime | None,
        sentiment: Sentiment | None,
        concluded: bool | None,
    ) -> list[ChatbotConversation]:
        return [
            c
            for c in self.chatbot
            if (start is None or c.started_at >= start)
            and (end is None or c.started_at < end)
            and (sentiment is None or c.sentiment == sentiment)
            and (concluded is None or c.concluded == concluded)
        ]

    # -- sending ----------------------------------------------------------------
    def window_open(self, contact: Contact) -> bool:
        last = contact.last_inbound()
        return last is not None and self.clock() - last <= SESSION_WINDOW

    def record_send(
        self,
        contact: Contact,
        kind: SendKind,
        text: str,
        instance_id: str,
        template_name: str | None = None,
        template_parameter: str | None = None,
    ) -> SentRecord:
        self._message_counter += 1
        now = self.clock()
        record = SentRecord(
            message_id=str(self._message_counter),
            kind=kind,
            prospect_token=contact.prospect_token,
            contact=contact.contact,
            text=text,
            template_name=template_name,
            template_parameter=template_parameter,
            instance_id=instance_id,
            at=now,
        )
        self.append_message(contact, Message(now, text, "outbound", "template" if kind == "template" else "text"))
        self.sent.append(record)
        return record

    # -- introspection ----------------------------------------------------------
    def stats_wire(self) -> dict[str, Any]:
        requests = {op: self.stats.get(op, 0) for op in OPERATIONS}
        return {"requests": requests, "total": sum(requests.values())}

    def sample(self) -> SampleContacts:
        def named(well_known: seed_module.WellKnown) -> Contact:
            return self.by_phone[phone_key(well_known.phone)]

        return SampleContacts(
            window_open=named(seed_module.DANIEL),
            window_closed=named(seed_module.AISHA),
            injection=named(seed_module.MALLORY),
            injection_target=named(seed_module.KEVIN),
            bidi=named(seed_module.HAFIZ),
            stop=named(seed_module.FARID),
            unsubscribe=named(seed_module.GRACE),
        )


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC, microsecond=0)
    return moment.astimezone(UTC).replace(microsecond=0)


def _matches(contact: Contact, search: str, *, tokens: bool = True) -> bool:
    if tokens and search == contact.prospect_token:
        return True
    needle = search.lower()
    if needle in contact.haystack:
        return True
    compact = _PHONE_NOISE.sub("", search)
    # Only digit-shaped searches hit the phone, so a name search never matches numbers.
    if compact.isascii() and compact.isdigit():
        if compact in contact.contact:
            return True
        # A local "012…" search should find the stored "6012…".
        return compact.startswith("0") and ("6" + compact) in contact.contact
    return False
