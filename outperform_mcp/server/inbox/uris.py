"""The inbox resources' URIs, and which of them an inbox change touches.

Apart from ``resources.py`` so that the change publisher ``open_deps`` wires at start reaches
them without importing the inbox toolset's tools (start-up imports no toolset module)."""

from __future__ import annotations

from ...inbox import InboxChange

INBOX_URI = "outperform://inbox"


def contact_uri(token: str) -> str:
    return f"{INBOX_URI}/{token}"


def uris_of(change: InboxChange) -> list[str]:
    return [INBOX_URI, *(contact_uri(token) for token in change.tokens)]
