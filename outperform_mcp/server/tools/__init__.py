"""Tool modules; importing this package declares every tool in the registry."""

from . import campaigns, contacts, conversations, inbox, messaging, templates

MODULES = (contacts, conversations, inbox, messaging, templates, campaigns)
