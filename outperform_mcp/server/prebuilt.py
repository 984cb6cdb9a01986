"""Tools listed from schemas built ahead of time; their pydantic models are built on first call.

Building a tool in the SDK (``Tool.from_function``: the argument model, the result model, and
both JSON schemas) took most of ``build_server``, about 50 ms of every start-up, to answer a
``tools/list`` whose schemas never change between runs. ``tool_schemas.json`` holds them as
built (compacted) by ``live_tool``; a tool is built for real on its first call, so a call sees
exactly the checks and result conversion it always had.

The file is checked against the live build by ``tests/test_prebuilt.py``; after changing a
tool's signature or result model, write it again: ``python -m outperform_mcp.server.prebuilt``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp.server.mcpserver.tools import Tool
from pydantic import PrivateAttr

from .arguments import CheckedTool
from .registry import ToolDef
from .schema import CompactResult, compact_input, compact_output

SCHEMAS = Path(__file__).with_name("tool_schemas.json")


def live_tool(t: ToolDef, hidden: frozenset[str]) -> Tool:
    """The tool as the SDK builds it, with compact schemas and compact results."""
    built = CheckedTool.from_function(
        t.fn,
        name=t.name,
        title=t.title,
        description=t.description,
        annotations=t.annotations,
        structured_output=True,
    )
    built.parameters = compact_input(built.parameters)
    meta = built.fn_metadata
    built.fn_metadata = CompactResult(
        arg_model=meta.arg_model,
        output_schema=compact_output(meta.output_schema) if meta.output_schema else None,
        output_model=meta.output_model,
        wrap_output=meta.wrap_output,
        hidden=hidden,
    )
    return built


def live_schemas(tools: list[ToolDef]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for t in tools:
        built = live_tool(t, frozenset())
        out[t.name] = {"input": built.parameters, "output": built.output_schema}
    return out


class PrebuiltTool(CheckedTool):
    """Listed from the stored schemas; built with ``live_tool`` when first called."""

    _build: Callable[[], Tool] | None = PrivateAttr(default=None)
    _live: Tool | None = PrivateAttr(default=None)

    def live(self) -> Tool:
        if self._live is None:
            assert self._build is not None
            self._live = self._build()
        return self._live

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        return await self.live().run(arguments, context, convert_result)


def stored_schemas() -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(SCHEMAS.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return dict(data)


def build_tools(tools: list[ToolDef], hidden: frozenset[str], stored: dict[str, dict[str, Any]]) -> list[Tool]:
    """One tool per definition: prebuilt where its schemas are ``stored``, built now where not."""
    out: list[Tool] = []
    for t in tools:
        schemas = stored.get(t.name)
        if schemas is None:
            out.append(live_tool(t, hidden))
            continue
        # model_construct: the fields are known good, and validating them is part of what we skip.
        # No fn_metadata: the SDK reads it only in Tool.run, which goes to the live tool here.
        tool = PrebuiltTool.model_construct(  # type: ignore[call-arg]
            fn=t.fn,
            name=t.name,
            title=t.title,
            description=t.description,
            parameters=schemas["input"],
            annotations=t.annotations,
            is_async=inspect.iscoroutinefunction(t.fn),
        )
        tool.__dict__["output_schema"] = schemas["output"]  # Tool.output_schema is a cached_property
        tool._build = _builder(t, hidden)
        out.append(tool)
    return out


def _builder(t: ToolDef, hidden: frozenset[str]) -> Callable[[], Tool]:
    return lambda: live_tool(t, hidden)


def write() -> Path:
    from .registry import REGISTRY, load_all

    load_all()
    schemas = live_schemas(list(REGISTRY.values()))
    SCHEMAS.write_text(json.dumps(schemas, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return SCHEMAS


if __name__ == "__main__":
    print(f"wrote {write()}")
