"""Turning failures into tool and resource errors a model can act on (never a traceback, never a secret)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError

from ..api.errors import OutPerformError
from ..inbox import UnknownContact
from ..store.db import StoreUnavailable


@contextmanager
def upstream(hints: Mapping[type[OutPerformError], str] | None = None) -> Iterator[None]:
    """Re-raise API errors as ``ToolError``; ``hints`` replace the generic advice per error type."""
    try:
        yield
    except OutPerformError as exc:
        hint = next((h for kind, h in (hints or {}).items() if isinstance(exc, kind)), None)
        raise ToolError(f"{exc.message}: {hint}" if hint else str(exc)) from None


@contextmanager
def resource_errors() -> Iterator[None]:
    """What ``upstream()`` is for tools, for resources: not found, or the API's failure in words."""
    try:
        yield
    except UnknownContact as exc:
        raise ResourceNotFoundError(f"no contact with token {exc.token}") from None
    except (OutPerformError, StoreUnavailable) as exc:
        raise ResourceError(str(exc)) from None
