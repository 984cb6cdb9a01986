"""Tools listed from the catalogue written ahead of time; their modules imported and their pydantic
models built on first call.

Building a tool in the SDK (``Tool.from_function``: the argument model, the result model, and
both JSON schemas) took most of ``build_server``, about 50 ms of every start-up, to answer a
``tools/list`` whose schemas never change between runs. ``catalogue.json`` (see ``catalogue.py``)
holds them as built (compacted) by ``live_tool``; a tool is built for real on its first call, so a
call sees exactly the checks and result conversion it always had.

The file is checked against the live build by ``tests/test_prebuilt.py``; after changing a
tool or resource (or a model in its arguments or result), write it again:
``python -m outperform_mcp.server.prebuilt``.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
import typing
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from mcp.server.mcpserver.tools import Tool
from pydantic import BaseModel, PrivateAttr

from .arguments import CheckedTool
from .catalogue import FILE, PACKAGE, PARAM_TYPES, ResourceEntry, ToolEntry, encode, resolve_tool
from .registry import REGISTRY, RESOURCES, TOOLSETS, ResourceDef, ToolDef, ToolInfo, load_all, modules, tool_annotations
from .schema import CompactResult, compact_input, compact_output


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


class PrebuiltTool(CheckedTool):
    """Listed from the catalogue; its module imported and the tool built with ``live_tool`` when first called."""

    _build: Callable[[], Tool] | None = PrivateAttr(default=None)
    _live: Tool | None = PrivateAttr(default=None)

    def live(self) -> Tool:
        if self._live is None:
            assert self._build is not None
            self._live = self._build()
        return self._live

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        return await self.live().run(arguments, context, convert_result)


def prebuilt_tool(entry: ToolEntry, hidden: frozenset[str]) -> PrebuiltTool:
    # model_construct: the fields are known good, and validating them is part of what we skip.
    # No fn and no fn_metadata: the SDK reads them only in Tool.run, which goes to the live tool.
    tool = PrebuiltTool.model_construct(  # type: ignore[call-arg]
        name=entry.name,
        title=entry.title,
        description=entry.description,
        parameters=entry.input,
        annotations=tool_annotations(entry),
        is_async=entry.is_async,
    )
    tool.__dict__["output_schema"] = entry.output  # Tool.output_schema is a cached_property
    tool._build = lambda: _built_once(resolve_tool(entry), hidden)
    return tool


@functools.lru_cache(maxsize=256)
def _built_once(t: ToolDef, hidden: frozenset[str]) -> Tool:
    """``live_tool``, once per tool and hidden set in a process. A built tool holds no state of the
    server it serves, and a process that builds many servers (the tests, about 360 builds at 5 ms
    each; a host embedding this) need not build the same models again."""
    return live_tool(t, hidden)


def build_tools(tools: Sequence[ToolInfo], hidden: frozenset[str]) -> list[Tool]:
    """One tool per entry: from the catalogue (built on first call), or declared and built now."""
    out: list[Tool] = []
    for t in tools:
        if isinstance(t, ToolEntry):
            out.append(prebuilt_tool(t, hidden))
        elif isinstance(t, ToolDef):
            out.append(live_tool(t, hidden))
        else:
            raise TypeError(f"{t.name}: neither a catalogue entry nor a declaration")
    return out


# -- writing the catalogue -------------------------------------------------------------------------


def live_catalogue() -> dict[str, Any]:
    """The catalogue as the declarations give it today (every toolset imported)."""
    load_all()
    order = list(TOOLSETS)
    declared = sorted(REGISTRY.values(), key=lambda t: (order.index(t.toolset), t.name))
    tools, models = [], []
    for t in declared:
        built = live_tool(t, frozenset())
        listed = {f: getattr(t, f) for f in ToolEntry._fields if f not in ("is_async", "input", "output")}
        tools.append(ToolEntry(**listed, is_async=built.is_async, input=built.parameters, output=built.output_schema))
        models += [built.fn_metadata.arg_model, built.fn_metadata.output_model]
    resources = [
        ResourceEntry(**{f: getattr(r, f) for f in ResourceEntry._fields if f != "params"}, params=uri_params(r))
        for r in sorted(RESOURCES.values(), key=lambda r: (order.index(r.toolset), r.uri))
    ]
    names = {m for toolset in TOOLSETS for m in (f"{__package__}.{toolset}", *modules(toolset))}
    names |= model_modules(m for m in models if m is not None)
    sources = sorted(Path(str(sys.modules[m].__file__)).relative_to(PACKAGE).as_posix() for m in names)
    return encode(tools, resources, sources)


def uri_params(r: ResourceDef) -> tuple[tuple[str, str], ...]:
    """A resource function's URI parameters (after ``deps``), by the names of their types."""
    hints = typing.get_type_hints(r.fn)
    names = {kind: name for name, kind in PARAM_TYPES.items()}
    out = []
    for p in list(inspect.signature(r.fn).parameters.values())[1:]:
        kind = names.get(hints[p.name]) if p.name in hints else None
        if kind is None or p.default is not inspect.Parameter.empty:
            raise ValueError(f"{r.uri}: parameter {p.name} must be one of {', '.join(PARAM_TYPES)}, without a default")
        out.append((p.name, kind))
    return tuple(out)


def model_modules(models: Iterable[type[BaseModel]]) -> set[str]:
    """Our modules that define a class (a model, an enum) reachable from ``models``: their source
    decides the schemas too."""
    seen: set[type] = set()
    todo: list[Any] = list(models)
    while todo:
        kind = todo.pop()
        todo += typing.get_args(kind)
        if not isinstance(kind, type) or kind in seen:
            continue
        seen.add(kind)
        if issubclass(kind, BaseModel):
            todo += [f.annotation for f in kind.model_fields.values()]
    return {k.__module__ for k in seen if k.__module__.startswith(f"{PACKAGE.name}.")}


def write() -> Path:
    FILE.write_text(json.dumps(live_catalogue(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return FILE


if __name__ == "__main__":
    print(f"wrote {write()}")
