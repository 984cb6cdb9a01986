"""Turning failures into tool and resource errors a model can act on (never a traceback, never a secret)."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

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


def bind_resource(fn: Callable[..., Any], deps: object) -> Callable[..., Any]:
    """``fn(deps, **uri_params)`` as the SDK wants it: URI parameters only, errors mapped."""

    async def read(**params: Any) -> Any:
        with resource_errors():
            return await fn(deps, **params)

    hints = typing.get_type_hints(fn)
    params = list(inspect.signature(fn).parameters.values())[1:]
    read.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [p.replace(annotation=hints.get(p.name, p.annotation)) for p in params],
        return_annotation=hints.get("return", inspect.Signature.empty),
    )
    read.__annotations__ = {p.name: hints[p.name] for p in params if p.name in hints}
    read.__name__ = fn.__name__
    read.__doc__ = fn.__doc__
    return read
