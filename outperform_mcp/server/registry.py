"""Tools by toolset: a declarative registry, filtered at assembly (toolsets, allow/deny, read-only).

Tool modules declare tools with ``@tool(...)``; nothing is registered on a server until
``selected()`` picks them, so the same process can build differently configured servers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from mcp.types import ToolAnnotations

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


def load_all() -> None:
    """Import every tool module so its ``@tool`` declarations run."""
    from .tools import MODULES  # noqa: F401  (imported for its side effect)


class SelectionError(ValueError):
    pass


def selected(
    *,
    toolsets: Iterable[str] = (),
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    read_only: bool = False,
) -> list[ToolDef]:
    """The tools a configuration exposes (no toolsets named: all but the opt-in ones; ``all``: every
    toolset). ``read_only`` wins over everything else."""
    load_all()
    toolsets, include, exclude = set(toolsets), set(include), set(exclude)
    if "all" in toolsets:
        toolsets = set(TOOLSETS)
    elif not toolsets:
        toolsets = set(TOOLSETS) - OPT_IN
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
    return sorted(chosen, key=lambda t: (order.index(t.toolset), t.name))
