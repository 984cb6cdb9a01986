"""Tool modules; importing this package declares every tool in the registry."""

from . import contacts, conversations, inbox, insights, messaging, sql

MODULES = (contacts, conversations, inbox, messaging, insights, sql)
