"""Conversations toolset: WhatsApp conversation history and chatbot conversations."""

from . import resources, tools

__all__ = ["resources", "tools"]
