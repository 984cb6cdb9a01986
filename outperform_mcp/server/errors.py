"""Turning API failures into tool errors a model can act on (never a traceback, never a secret)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from mcp.server.mcpserver.exceptions import ToolError

from ..api.errors import OutPerformError


@contextmanager
def upstream(hints: Mapping[type[OutPerformError], str] | None = None) -> Iterator[None]:
    """Re-raise API errors as ``ToolError``; ``hints`` replace the generic advice per error type."""
    try:
        yield
    except OutPerformError as exc:
        hint = next((h for kind, h in (hints or {}).items() if isinstance(exc, kind)), None)
        raise ToolError(f"{exc.message}: {hint}" if hint else str(exc)) from None
