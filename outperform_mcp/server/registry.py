"""Tools and resources by toolset: a declarative registry, filtered at assembly.

Toolset modules declare tools with ``@tool(...)`` and resources with ``@resource(...)``; nothing is
registered on a server until ``selected()`` picks them (toolsets, allow/deny, read-only), so the
same process can build differently configured servers and a filtered-out toolset serves nothing.
A resource function takes ``Deps`` first, then its URI parameters.

``selected()`` filters a ``Listing``: the catalogue written ahead of time (``catalogue.py``; no
toolset module imported) or, without a current one, the declarations themselves (``live()``).
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

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


# What listing and selecting need of a tool or resource: a declaration (``ToolDef``) or a catalogue
# entry (``catalogue.ToolEntry``), which has no function. The records here and in the catalogue are
# NamedTuples, not dataclasses: a frozen dataclass class costs about 0.5 ms to create, a NamedTuple
# a fifth of that, and start-up imports both modules.
class ToolInfo(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def toolset(self) -> str: ...
    @property
    def module(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def read_only(self) -> bool: ...
    @property
    def destructive(self) -> bool: ...
    @property
    def idempotent(self) -> bool: ...
    @property
    def open_world(self) -> bool: ...


class ResourceInfo(Protocol):
    @property
    def toolset(self) -> str: ...
    @property
    def uri(self) -> str: ...
    @property
    def module(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def mime_type(self) -> str: ...


def tool_annotations(t: ToolInfo) -> ToolAnnotations:
    return ToolAnnotations(
        title=t.title,
        read_only_hint=t.read_only,
        destructive_hint=t.destructive,
        idempotent_hint=t.idempotent,
        open_world_hint=t.open_world,
    )


class ToolDef(NamedTuple):
    fn: Callable[..., Any]
    name: str
    toolset: str
    module: str  # where it is declared: imported to call the tool
    title: str
    description: str
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool

    @property
    def annotations(self) -> ToolAnnotations:
        return tool_annotations(self)


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
            module=fn.__module__,
            title=title,
            description=doc,
            read_only=read_only,
            destructive=destructive and not read_only,
            idempotent=idempotent or read_only,
            open_world=open_world,
        )
        return fn

    return decorate


class ResourceDef(NamedTuple):
    fn: Callable[..., Any]
    toolset: str
    uri: str
    module: str  # where it is declared: imported to read the resource
    name: str
    title: str
    description: str  # the function's docstring as written: the SDK lists it as the description
    mime_type: str = "application/json"


RESOURCES: dict[str, ResourceDef] = {}


def resource(toolset: str, uri: str, *, name: str, title: str, mime_type: str = "application/json") -> Callable[[F], F]:
    """Declare a resource of ``toolset``: served only when that toolset is."""
    if toolset not in TOOLSETS:
        raise ValueError(f"unknown toolset {toolset!r}")

    def decorate(fn: F) -> F:
        RESOURCES[uri] = ResourceDef(
            fn=fn,
            toolset=toolset,
            uri=uri,
            module=fn.__module__,
            name=name,
            title=title,
            description=fn.__doc__ or "",
            mime_type=mime_type,
        )
        return fn

    return decorate


def modules(toolset: str) -> list[str]:
    """The modules of a toolset's package (named after it), the only places its tools and resources
    are declared. The package itself imports none of them, so importing one module (a tool's, on
    its first call) does not import the rest."""
    files = sorted(os.listdir(Path(__file__).with_name(toolset)))
    return [
        f"{__package__}.{toolset}.{f.removesuffix('.py')}" for f in files if f.endswith(".py") and f != "__init__.py"
    ]


def load(toolsets: Iterable[str] = TOOLSETS) -> None:
    """Import every module of ``toolsets`` so their ``@tool`` and ``@resource`` declarations run."""
    for toolset in toolsets:
        for module in modules(toolset):
            importlib.import_module(module)


def load_all() -> None:
    load(TOOLSETS)


class Listing(NamedTuple):
    """Every tool (by name) and resource (by URI) there is, whether a configuration offers it or not."""

    tools: Mapping[str, ToolInfo]
    resources: Mapping[str, ResourceInfo]


def live() -> Listing:
    """The declarations themselves: every toolset imported, as start-up did before the catalogue."""
    load_all()
    return Listing(dict(REGISTRY), dict(RESOURCES))


class Surface(NamedTuple):
    """What one configuration exposes."""

    tools: list[ToolInfo]
    resources: list[ResourceInfo]
    prompts: list[Prompt]


class SelectionError(StartProblem, ValueError):
    pass


def selected(
    listing: Listing,
    *,
    toolsets: Iterable[str] = (),
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    read_only: bool = False,
    prompts_dir: Path | None = None,
) -> Surface:
    """The tools and resources of ``listing`` a configuration exposes. ``read_only`` wins over
    everything else. No toolsets named: all but the opt-in ones (``OPT_IN``); ``all``: every toolset.

    A resource is served when its toolset is enabled and at least one of that toolset's tools
    is exposed: the same switches that hide a toolset's tools hide its data too. Prompts (from
    ``prompts_dir``, default the bundled ones) span toolsets and are always served.
    """
    toolsets, include, exclude = set(toolsets), set(include), set(exclude)
    if "all" in toolsets:
        toolsets = set(TOOLSETS)
    elif not toolsets:
        toolsets = set(TOOLSETS) - OPT_IN
    unknown = sorted((toolsets - TOOLSETS.keys()) | ((include | exclude) - listing.tools.keys()))
    if unknown:
        raise SelectionError(
            f"unknown toolset or tool: {', '.join(unknown)}; "
            f"toolsets are {', '.join(TOOLSETS)}, tools are {', '.join(sorted(listing.tools))}"
        )
    order = list(TOOLSETS)
    chosen = [
        t
        for t in listing.tools.values()
        if t.toolset in toolsets
        and (not include or t.name in include)
        and t.name not in exclude
        and (t.read_only or not read_only)
    ]
    tools = sorted(chosen, key=lambda t: (order.index(t.toolset), t.name))
    live = {t.toolset for t in tools}
    resources = [r for r in listing.resources.values() if r.toolset in live]
    resources.sort(key=lambda r: (order.index(r.toolset), r.uri))
    return Surface(tools, resources, load_prompts(prompts_dir))
