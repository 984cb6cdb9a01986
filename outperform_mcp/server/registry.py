"""Tools and resources by toolset: a declarative registry, filtered at assembly.

Toolset modules declare tools with ``@tool(...)`` and resources with ``@resource(...)``; nothing is
registered on a server until ``selected()`` picks them (toolsets, allow/deny, read-only), so the
same process can build differently configured servers and a filtered-out toolset serves nothing.
A resource function takes ``Deps`` first, then its URI parameters.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mcp.server.mcpserver.prompts.base import Prompt
from mcp.types import ToolAnnotations

from ..problems import StartProblem
from .prompts import load_prompts

F = TypeVar("F", bound=Callable[..., Any])

# Order here is the order of tools/list: deterministic, grouped by toolset.
TOOLSETS: dict[str, str] = {
    "contacts": "Find, read and create CRM contacts and labels",
    "conversations": "Read WhatsApp conversation history and chatbot conversations",
    "messaging": "Send WhatsApp messages (every send needs a human's approval) and read the send log",
    "inbox": "Inbound WhatsApp replies as they arrive: list, wait for, mark handled",
    "insights": "Answers from the local mirror: full-text search, segments, grouped reports, chatbot transcripts",
    "sql": "Read-only SQL over the local mirror's documented views",
}
# Off unless asked for (--toolsets / OUTPERFORM_TOOLSETS), to keep the default tools/list small.
OPT_IN: frozenset[str] = frozenset({"insights", "sql"})


@dataclass(frozen=True)
class ToolDef:
    fn: Callable[..., Any]
    name: str
    toolset: str
    title: str
    description: str
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool

    @property
    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=self.open_world,
        )


REGISTRY: dict[str, ToolDef] = {}


def tool(
    toolset: str,
    *,
    title: str,
    read_only: bool,
    destructive: bool = False,
    idempotent: bool = False,
    open_world: bool = True,
    name: str | None = None,
) -> Callable[[F], F]:
    """Declare a tool. The docstring is its description: what it does, when to use it, what it returns."""
    if toolset not in TOOLSETS:
        raise ValueError(f"unknown toolset {toolset!r}")

    def decorate(fn: F) -> F:
        tool_name = name or fn.__name__
        doc = inspect.cleandoc(fn.__doc__ or "")
        if not doc:
            raise ValueError(f"tool {tool_name} has no description")
        REGISTRY[tool_name] = ToolDef(
            fn=fn,
            name=tool_name,
            toolset=toolset,
            title=title,
            description=doc,
            read_only=read_only,
            destructive=destructive and not read_only,
            idempotent=idempotent or read_only,
            open_world=open_world,
        )
        return fn

    return decorate


@dataclass(frozen=True)
class ResourceDef:
    fn: Callable[..., Any]
    toolset: str
    uri: str
    name: str
    title: str
    mime_type: str = "application/json"


RESOURCES: dict[str, ResourceDef] = {}


def resource(toolset: str, uri: str, *, name: str, title: str, mime_type: str = "application/json") -> Callable[[F], F]:
    """Declare a resource of ``toolset``: served only when that toolset is."""
    if toolset not in TOOLSETS:
        raise ValueError(f"unknown toolset {toolset!r}")

    def decorate(fn: F) -> F:
        RESOURCES[uri] = ResourceDef(fn=fn, toolset=toolset, uri=uri, name=name, title=title, mime_type=mime_type)
        return fn

    return decorate


def load(toolsets: Iterable[str] = TOOLSETS) -> None:
    """Import toolset packages (one per toolset, named after it) so their ``@tool`` and
    ``@resource`` declarations run. Start-up imports only the selected ones: the opt-in
    insights toolset alone costs about 20 ms of imports."""
    for name in toolsets:
        importlib.import_module(f"{__package__}.{name}")


def load_all() -> None:
    load(TOOLSETS)


@dataclass(frozen=True)
class Surface:
    """What one configuration exposes."""

    tools: list[ToolDef]
    resources: list[ResourceDef]
    prompts: list[Prompt]


class SelectionError(StartProblem, ValueError):
    pass


def selected(
    *,
    toolsets: Iterable[str] = (),
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    read_only: bool = False,
    prompts_dir: Path | None = None,
) -> Surface:
    """The tools and resources a configuration exposes. ``read_only`` wins over everything else.
    No toolsets named: all but the opt-in ones (``OPT_IN``); ``all``: every toolset.

    A resource is served when its toolset is enabled and at least one of that toolset's tools
    is exposed: the same switches that hide a toolset's tools hide its data too. Prompts (from
    ``prompts_dir``, default the bundled ones) span toolsets and are always served.
    """
    toolsets, include, exclude = set(toolsets), set(include), set(exclude)
    if "all" in toolsets:
        toolsets = set(TOOLSETS)
    elif not toolsets:
        toolsets = set(TOOLSETS) - OPT_IN
    load(t for t in TOOLSETS if t in toolsets)
    if (include | exclude) - REGISTRY.keys():  # a tool of another toolset, or a typo: look everywhere
        load_all()
    unknown = sorted((toolsets - TOOLSETS.keys()) | ((include | exclude) - REGISTRY.keys()))
    if unknown:
        raise SelectionError(
            f"unknown toolset or tool: {', '.join(unknown)}; "
            f"toolsets are {', '.join(TOOLSETS)}, tools are {', '.join(sorted(REGISTRY))}"
        )
    order = list(TOOLSETS)
    chosen = [
        t
        for t in REGISTRY.values()
        if t.toolset in toolsets
        and (not include or t.name in include)
        and t.name not in exclude
        and (t.read_only or not read_only)
    ]
    tools = sorted(chosen, key=lambda t: (order.index(t.toolset), t.name))
    live = {t.toolset for t in tools}
    resources = [r for r in RESOURCES.values() if r.toolset in live]
    resources.sort(key=lambda r: (order.index(r.toolset), r.uri))
    return Surface(tools, resources, load_prompts(prompts_dir))
