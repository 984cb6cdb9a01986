"""Inbox resources (``outperform://inbox``, ``outperform://inbox/{token}``), read through ``InboxService``.

Change notifications reach 2026-07-28 clients through ``subscriptions/listen`` (the SDK serves it
from the subscription bus) and handshake-era clients through ``resources/subscribe`` (see
``push.py``); ``uris.uris_of`` names the resources an inbox change touches.
"""

from __future__ import annotations

from typing import Any

from ..deps import Deps
from ..registry import resource
from ..views import UNTRUSTED_NOTE
from .tools import receiver_status, view
from .uris import INBOX_URI

RECENT = 20
PER_CONTACT = 50


@resource("inbox", INBOX_URI, name="inbox", title="Inbound WhatsApp messages: unread count and the latest unread")
async def inbox_summary(deps: Deps) -> dict[str, Any]:
    inbox = deps.inbox
    summary = await inbox.summary(RECENT)
    return {
        "unread": summary.unread,
        "stored": summary.stored,
        "cursor": summary.cursor,
        "latest_unread": [view(e).model_dump(mode="json") for e in reversed(summary.latest_unread)],
        "receiver": {"status": receiver_status(inbox), "counts": inbox.stats.as_dict()},
        "note": UNTRUSTED_NOTE,
    }


@resource(
    "inbox", f"{INBOX_URI}/{{token}}", name="contact_inbox", title="One contact's inbound WhatsApp messages (latest 50)"
)
async def contact_inbox(deps: Deps, token: str) -> dict[str, Any]:
    page = await deps.inbox.contact_messages(token, PER_CONTACT)
    return {
        "token": token,
        "unread": page.unread,
        "messages": [view(e).model_dump(mode="json") for e in reversed(page.events)],
        "note": UNTRUSTED_NOTE,
    }
