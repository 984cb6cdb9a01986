"""Shared argument types for tools: validated at the edge so bad input gets a clear error."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

# Contact tokens and approval ids share one shape: URL-safe, 8-64 characters.
ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
INSTANCE_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"

Token = Annotated[
    str,
    Field(
        pattern=ID_PATTERN,
        description="Contact token (from search_contacts)",
    ),
]
Page = Annotated[int, Field(ge=1, description="Page, from 1")]
StartDate = Annotated[date | None, Field(description="First day")]
EndDate = Annotated[date | None, Field(description="Last day")]


def check_range(start: date | None, end: date | None) -> None:
    if start and end and end < start:
        raise ToolError(f"end_date {end} is before start_date {start}: swap them or widen the range")
