"""Contacts toolset: find, read and create CRM contacts and labels."""

from . import resources, tools

__all__ = ["resources", "tools"]
