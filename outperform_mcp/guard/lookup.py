"""One contact as the server sees it: the CRM record, its thread, and what the inbox learnt locally.

The 24-hour window counts the later of the API's last inbound message and the last webhook the
inbox stored, so a reply opens the window before the API's conversation list shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import anyio

from .. import phones
from ..api.client import OutPerformClient
from ..store.contacts import ContactState, created_phone, get_state
from ..store.db import Connection, Store
from .model import Window

if TYPE_CHECKING:
    from ..api.models import Contact, Conversation  # only annotations here (see api/client.py)


def later(*times: datetime | None) -> datetime | None:
    return max((t for t in times if t), default=None)


@dataclass(frozen=True)
class ContactView:
    contact: Contact | None
    conversation: Conversation | None
    state: ContactState | None

    @property
    def last_inbound_at(self) -> datetime | None:
        return later(
            self.conversation.last_inbound_at if self.conversation else None,
            self.state.last_inbound_at if self.state else None,
        )

    @property
    def window(self) -> Window:
        return Window(self.last_inbound_at)


async def local_state(store: Store, *, token: str, phone: str | None, country: str) -> ContactState | None:
    """What the inbox recorded for the contact: by its phone (as the API gives it), else its token."""
    key = phones.key(phone, country) if phone else None

    def read(conn: Connection) -> ContactState | None:
        return (get_state(conn, phone=key) if key else None) or get_state(conn, token=token)

    return await store.run(read)


async def window_for(
    store: Store, *, token: str, phone: str | None, api_last_inbound: datetime | None, country: str
) -> Window:
    """The 24-hour window from the API's last inbound message and the inbox's, whichever is later."""
    state = await local_state(store, token=token, phone=phone, country=country)
    return Window(later(api_last_inbound, state.last_inbound_at if state else None))


async def _created_here(api: OutPerformClient, store: Store, token: str) -> Contact | None:
    """A contact this server created, found by the number it was created with. get_contact finds a
    contact by a token search or its conversation; a new contact may have neither (whether search
    matches tokens is an assumption), but a phone search is documented."""
    phone = await store.run(lambda conn: created_phone(conn, token))
    if phone is None:
        return None
    page = await api.list_contacts(search=phone, limit=5)
    return next((c for c in page.items if c.token == token), None)


async def look_up(api: OutPerformClient, store: Store, token: str) -> ContactView:
    """The contact and its thread fetched concurrently, then the local state."""
    contact: list[Contact | None] = []
    threads: list[list[Conversation]] = []

    async def get_contact() -> None:
        contact.append(await api.get_contact(token))

    async def get_thread() -> None:
        threads.append(await api.list_conversations(prospect_token=token, limit=1))

    async with anyio.create_task_group() as tg:
        tg.start_soon(get_contact)
        tg.start_soon(get_thread)
    person = contact[0]
    if person is None:
        person = await _created_here(api, store, token)
    conv = next((c for c in threads[0] if c.token == token), None)
    phone = person.phone if person else conv.phone if conv else None
    state = await local_state(store, token=token, phone=phone, country=api.settings.default_country)
    return ContactView(person, conv, state)
