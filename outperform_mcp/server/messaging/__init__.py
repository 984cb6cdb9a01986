"""Messaging toolset: sends (each approved by a human), the approval flow and page, the send log,
the template catalogue and campaigns."""

from . import campaigns, templates, tools

__all__ = ["campaigns", "templates", "tools"]
