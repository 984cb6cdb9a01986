"""Messaging toolset: sends (each approved by a human), the approval flow and page, the send log."""

from . import tools

__all__ = ["tools"]
