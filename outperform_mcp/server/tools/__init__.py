"""Tool modules; importing this package declares every tool in the registry."""

from . import contacts, conversations

MODULES = (contacts, conversations)
