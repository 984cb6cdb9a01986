"""Contacts toolset: search, read, create contacts; list labels."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ... import phones
from ...api.client import OutPerformClient
from ...api.errors import DuplicateRecord, OutPerformError
from ...api.models import Contact, NewContact
from ...guard.lookup import look_up
from ...store.contacts import remember_created
from ...textsafe import has_breaks_or_controls
from ..deps import Ctx, deps
from ..errors import upstream
from ..params import Page, Token
from ..registry import tool
from ..views import ContactOut, SessionWindow, ThreadMessage
from .labels import canonical_label

Phone = Annotated[
    str,
    Field(
        pattern=r"^\+?[0-9][0-9 ()-]{6,20}$",
        description="With country code, e.g. +60 12-345 6789",
    ),
]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254, description="Email address")]
LabelName = Annotated[str, Field(min_length=1, max_length=60, description="Label name")]


class ContactList(BaseModel):
    items: list[ContactOut]
    page: int
    total: int | None = None
    next_page: int | None = Field(None, description="Pass as page to get more; null when this is the last page")


class ContactDetail(ContactOut):
    window: SessionWindow = Field(description="Whether a free-text message may be sent now")
    last_message: ThreadMessage | None = None


class CreatedContact(ContactOut):
    created: bool = Field(description="False: the number was already a contact; this is that contact, unchanged")


class LabelOut(BaseModel):
    name: str
    contacts: int | None = None


class LabelList(BaseModel):
    labels: list[LabelOut]


@tool("contacts", title="Search contacts", read_only=True)
async def search_contacts(
    ctx: Ctx,
    search: Annotated[str | None, Field(max_length=100, description="Name, phone or email")] = None,
    label: LabelName | None = None,
    page: Page = 1,
    limit: Annotated[int, Field(ge=1, le=50, description="Per page")] = 20,
) -> ContactList:
    """Find contacts by name, phone or email, optionally by label; gives the token other tools
    need."""
    if label is not None:
        label = await canonical_label(deps(ctx).api, label)
    with upstream():
        result = await deps(ctx).api.list_contacts(search=search, label=label, page=page, limit=limit)
    return ContactList(
        items=[ContactOut.of(c) for c in result.items],
        page=result.page,
        total=result.total,
        next_page=result.page + 1 if result.has_more else None,
    )


@tool("contacts", title="Get contact", read_only=True)
async def get_contact(ctx: Ctx, token: Token) -> ContactDetail:
    """One contact: labels, last message, and whether the 24-hour window is open (free text
    allowed) and until when."""
    d = deps(ctx)
    with upstream():
        view = await look_up(d.api, d.store, token)
    if view.contact is None:
        raise ToolError(f"no contact with token {token}: use search_contacts to find the right token")
    messages = view.conversation.messages if view.conversation else []
    return ContactDetail(
        **ContactOut.of(view.contact).model_dump(),
        window=SessionWindow.of(view.window),
        last_message=ThreadMessage.of(messages[-1]) if messages else None,
    )


@tool("contacts", title="Create contact", read_only=False, destructive=False, idempotent=False)
async def create_contact(
    ctx: Ctx,
    name: Annotated[str, Field(min_length=1, max_length=120, description="Full name")],
    phone: Phone,
    email: Email | None = None,
    labels: Annotated[list[LabelName], Field(max_length=10, description="Labels to attach")] = [],  # noqa: B006
) -> CreatedContact:
    """Add a contact (lead); returns its token. A number already in the CRM returns that contact
    (created=false)."""
    # A name or label is shown to the human who approves sends: one line of visible text only.
    for what, value in [("name", name), *(("label", label) for label in labels)]:
        if has_breaks_or_controls(value):
            raise ToolError(
                f"the {what} {value[:40]!r} holds a line break or a control character: "
                "pass it as one line of plain text"
            )
    api = deps(ctx).api
    # ASSUMPTION: the API takes E.164 digits (its page shows a local number in one example and an
    # international one in the webhook's); one form keeps one contact per subscriber.
    try:
        number = phones.normalise(phone, api.settings.default_country)
    except phones.PhoneError as exc:
        raise ToolError(f"phone: {exc}") from None
    with upstream():
        try:
            created = await api.create_contact(NewContact(name=name.strip(), phone=number, email=email, labels=labels))
        except DuplicateRecord:
            existing = await _existing(api, number)
            if existing is None:
                raise ToolError("contact already exists: use search_contacts with this number to find it") from None
            return CreatedContact(**ContactOut.of(existing).model_dump(), created=False)
    # ASSUMPTION fallback: found again for a send even where search does not match tokens.
    await deps(ctx).store.run(lambda conn: remember_created(conn, token=created.token, phone=number))
    return CreatedContact(**ContactOut.of(created).model_dump(), created=True)


async def _existing(api: OutPerformClient, number: str) -> Contact | None:
    """The contact that already has this number (what a duplicate-record refusal refers to)."""
    try:
        return await api.find_by_phone(number)
    except OutPerformError:
        return None


@tool("contacts", title="List labels", read_only=True)
async def list_labels(ctx: Ctx) -> LabelList:
    """Contact labels and how many contacts carry each; use one to filter search_contacts."""
    with upstream():
        labels = await deps(ctx).api.list_labels()
    return LabelList(labels=[LabelOut(name=label.name, contacts=label.contacts) for label in labels])
