"""Tool modules; importing this package declares every tool in the registry."""

from . import contacts, conversations, inbox, messaging

MODULES = (contacts, conversations, inbox, messaging)
