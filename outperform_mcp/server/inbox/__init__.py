"""Inbox toolset: inbound WhatsApp replies as they arrive (tools and resources over ``InboxService``)."""

from . import resources, tools

__all__ = ["resources", "tools"]
