"""Shared argument types for tools: validated at the edge so bad input gets a clear error."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

Token = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="Contact token (from search_contacts)",
    ),
]
Page = Annotated[int, Field(ge=1, description="Page, from 1")]
StartDate = Annotated[date | None, Field(description="First day")]
EndDate = Annotated[date | None, Field(description="Last day")]


def check_range(start: date | None, end: date | None) -> None:
    if start and end and end < start:
        raise ToolError(f"end_date {end} is before start_date {start}: swap them or widen the range")
