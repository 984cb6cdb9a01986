"""The inbox: inbound WhatsApp messages from the webhook, stored durably, waited on, listed, marked.

A domain package: no MCP and no SQL here (the tables live in ``store.inbox``). The server's inbox
tools and resources call ``InboxService`` methods, and connect its change callback to MCP
notifications.
"""

from .intake import Intake
from .service import (
    InboxChange,
    InboxService,
    InboxUnavailable,
    Marked,
    Page,
    ReceiverStats,
    Summary,
    UnknownContact,
)

__all__ = [
    "InboxChange",
    "InboxService",
    "InboxUnavailable",
    "Intake",
    "Marked",
    "Page",
    "ReceiverStats",
    "Summary",
    "UnknownContact",
]
