"""SQL toolset: read-only SQL over the mirror's documented views (outperform://mirror/views)."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ...store.mirror import iso
from ...store.mirror_sql import QueryError, run_query
from ...textsafe import clean, trim
from ..deps import Ctx
from ..insights.tools import mirror_of
from ..registry import tool
from ..views import UNTRUSTED_NOTE

VIEWS_URI = "outperform://mirror/views"


class QueryOut(BaseModel):
    columns: list[str]
    rows: list[list[str | int | float | None]]
    truncated: bool = Field(description="True when the row bound cut the result")
    as_of: str | None = None
    untrusted: str = UNTRUSTED_NOTE


@tool("sql", title="Query the mirror (read-only SQL)", read_only=True)
async def query_mirror(
    ctx: Ctx,
    sql: Annotated[str, Field(min_length=1, max_length=4000, description="One SELECT over the views")],
    max_rows: Annotated[int, Field(ge=1, le=500, description="Row bound")] = 100,
    max_seconds: Annotated[float, Field(gt=0, le=10, description="Time bound")] = 3.0,
) -> QueryOut:
    """Read-only SQL (SQLite) over the mirror's views contacts, contact_labels, labels, messages,
    threads, chatbot_sessions, chatbot_messages; see resource outperform://mirror/views."""
    mirror = mirror_of(ctx)
    _, fresh = await mirror.read(lambda conn: None)
    path = mirror.store.path
    assert path is not None  # the sql toolset is served only over the SQLite store (see server.app)
    try:
        result = await anyio.to_thread.run_sync(
            lambda: run_query(path, sql, max_rows=max_rows, max_seconds=max_seconds)
        )
    except QueryError as exc:
        raise ToolError(f"{exc} (views and columns: {VIEWS_URI})") from None
    rows = [[trim(clean(c), 600) if isinstance(c, str) else c for c in row] for row in result.rows]
    return QueryOut(columns=result.columns, rows=rows, truncated=result.truncated, as_of=iso(fresh.as_of))
