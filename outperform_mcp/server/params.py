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
# Bounds every client sees in the schema, so an absurd value is refused here with a clear error
# instead of overflowing SQLite (ids past 2**63) or reaching the API as a date it cannot handle.
MAX_ID = 2**53 - 1  # the largest integer every JSON client keeps exactly
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
Page = Annotated[int, Field(ge=1, le=10_000, description="Page, from 1")]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
_DAY_BOUNDS = {"formatMinimum": FIRST_DAY.isoformat(), "formatMaximum": LAST_DAY.isoformat()}
StartDate = Annotated[
    date | None, Field(ge=FIRST_DAY, le=LAST_DAY, description="First day", json_schema_extra=_DAY_BOUNDS)
]
EndDate = Annotated[
    date | None, Field(ge=FIRST_DAY, le=LAST_DAY, description="Last day", json_schema_extra=_DAY_BOUNDS)
]


def check_range(start: date | None, end: date | None) -> None:
    if start and end and end < start:
        raise ToolError(f"end_date {end} is before start_date {start}: swap them or widen the range")
