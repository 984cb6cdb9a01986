"""Tool arguments checked before anything runs, with errors a model can act on: one line per
problem saying what was wrong and what to pass instead, unknown argument names refused with the
valid ones (a misspelt filter must not silently widen a search), and no pydantic links. A tool
that failed because the database is unavailable says so instead of a bare "error executing tool"."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from ..store.db import StoreUnavailable

_MAX_SHOWN = 10


def _names(fields: dict[str, FieldInfo]) -> dict[str, FieldInfo]:
    return {info.alias or name: info for name, info in fields.items()}


def _hint(info: FieldInfo | None) -> str:
    if info is None or not info.description:
        return ""
    return f" (expected: {info.description})"


def problems(tool: str, fields: dict[str, FieldInfo], arguments: dict[str, Any], exc: ValidationError | None) -> str:
    """The error text for ``arguments``: unknown names first, then each failed check."""
    known = _names(fields)
    lines = [f"invalid arguments for {tool}:"]
    unknown = sorted(set(arguments) - known.keys())
    if unknown:
        valid = ", ".join(known) or "none"
        lines += [f"- {name}: no such argument; valid arguments are: {valid}" for name in unknown[:_MAX_SHOWN]]
    for err in (exc.errors(include_url=False, include_input=False) if exc else [])[:_MAX_SHOWN]:
        loc = [str(part) for part in err["loc"]]
        where = ".".join(loc) or "arguments"
        info = known.get(loc[0]) if loc else None
        what = "missing" if err["type"] == "missing" else err["msg"]
        lines.append(f"- {where}: {what}{_hint(info)}")
    return "\n".join(lines)


class CheckedTool(Tool):
    """A tool whose arguments are checked by name and value before any resolver or body runs."""

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        fields = self.fn_metadata.arg_model.model_fields
        error: ValidationError | None = None
        try:
            self.fn_metadata.validate_arguments(arguments)
        except ValidationError as exc:
            error = exc
        if error is not None or set(arguments) - _names(fields).keys():
            raise ToolError(problems(self.name, fields, arguments, error))
        try:
            return await super().run(arguments, context, convert_result)
        except UnexpectedToolError as exc:
            # The database failing is not a bug of the tool: say what failed (the message holds no secret).
            if isinstance(exc.__cause__, StoreUnavailable):
                raise ToolError(f"{exc.__cause__}; try again when the database is back") from None
            raise
