"""The tool and resource surface, stored ahead of time so that start-up imports no toolset module.

``catalogue.json`` holds, per tool, what ``tools/list`` sends (name, title, description,
annotations, the input and output schemas as ``prebuilt.live_tool`` builds them) with its toolset
and the module that declares it; per resource, what ``resources/list`` sends with its toolset,
module and URI parameters. ``build_server`` lists from it; a tool's module is imported on the
tool's first call, a resource's on its first read. The toolset modules and what only they use
were about a quarter of the package's import time at start-up (``python -X importtime``).

The file records a fingerprint of the sources that declare the surface (every module of the
toolset packages, and the modules of the models in the tools' arguments and results). When the
file is missing or its fingerprint is not that of the sources on disk (a tool was changed and
the file not written again), ``stored()`` returns None and the server imports and builds every
tool live, as it did before the catalogue, with a warning. Anything else that changes a schema
(a library upgrade, ``schema.py``'s compaction) is caught by ``tests/test_prebuilt.py``, which
compares the whole file with the live build. Write it again with
``python -m outperform_mcp.server.prebuilt``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from .registry import REGISTRY, RESOURCES, TOOLSETS, Listing, ResourceDef, ResourceInfo, ToolDef, ToolInfo

log = logging.getLogger(__name__)

FILE = Path(__file__).with_name("catalogue.json")
PACKAGE = Path(__file__).parent.parent  # sources are named relative to it
REWRITE = "run python -m outperform_mcp.server.prebuilt"

# The types a resource's URI parameter may have: the lazy reader's signature is rebuilt from
# these names, and the SDK converts the URI's text to them.
PARAM_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}


class ToolEntry(NamedTuple):
    """A tool listed from the catalogue (a ``registry.ToolInfo``); its module is imported on its first call."""

    name: str
    toolset: str
    module: str
    title: str
    description: str
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool
    is_async: bool
    input: dict[str, Any]
    output: dict[str, Any] | None


class ResourceEntry(NamedTuple):
    """A resource listed from the catalogue (a ``registry.ResourceInfo``); its module is imported on its first read."""

    uri: str
    toolset: str
    module: str
    name: str
    title: str
    description: str
    mime_type: str
    params: tuple[tuple[str, str], ...]  # URI parameters in signature order: (name, PARAM_TYPES key)


def fingerprint(sources: Iterable[str]) -> str:
    """Digest of the toolset packages' file names and the contents of ``sources``.

    The names catch a module added to a toolset; the contents, any change to a declaration (and,
    as the price of not parsing, to a function body). Line ends are normalised, so a checkout with
    CRLF line ends matches too. About 25 small files: under a millisecond.
    """
    digest = hashlib.blake2b(digest_size=16)
    for toolset in TOOLSETS:
        names = sorted(n for n in os.listdir(PACKAGE / "server" / toolset) if n.endswith(".py"))
        digest.update(f"{toolset}:{','.join(names)}\n".encode())
    for source in sources:
        digest.update(f"{source}\n".encode())
        digest.update((PACKAGE / source).read_bytes().replace(b"\r\n", b"\n"))
    return digest.hexdigest()


def stored() -> Listing | None:
    """The catalogue, or None when it is missing or does not match the sources (then build live)."""
    try:
        text = FILE.read_text(encoding="utf-8")
    except FileNotFoundError:
        log.warning("%s is missing: importing every toolset to list the tools (%s)", FILE.name, REWRITE)
        return None
    try:
        data = json.loads(text)
        if data["fingerprint"] == fingerprint(data["sources"]):
            return decode(data)
    except (OSError, LookupError, TypeError, ValueError):  # a listed source gone, or not a catalogue
        pass
    log.warning("%s is stale: importing every toolset to list the tools (%s)", FILE.name, REWRITE)
    return None


def decode(data: dict[str, Any]) -> Listing:
    tools = {name: ToolEntry(name=name, **fields) for name, fields in data["tools"].items()}
    resources = {
        uri: ResourceEntry(uri=uri, **{**fields, "params": tuple(fields["params"].items())})
        for uri, fields in data["resources"].items()
    }
    return Listing(tools, resources)


def encode(tools: Iterable[ToolEntry], resources: Iterable[ResourceEntry], sources: list[str]) -> dict[str, Any]:
    return {
        "fingerprint": fingerprint(sources),
        "sources": sources,
        "tools": {t.name: _fields(t._asdict(), "name") for t in tools},
        "resources": {r.uri: {**_fields(r._asdict(), "uri"), "params": dict(r.params)} for r in resources},
    }


def _fields(entry: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != key}


def resolve_tool(info: ToolInfo) -> ToolDef:
    """The declaration behind ``info``, its module imported now."""
    importlib.import_module(info.module)
    found = REGISTRY.get(info.name)
    if found is None or found.module != info.module:
        raise RuntimeError(f"{info.module} declares no tool {info.name}: {FILE.name} is stale; {REWRITE}")
    return found


def resolve_resource(info: ResourceInfo) -> ResourceDef:
    """The declaration behind ``info``, its module imported now."""
    importlib.import_module(info.module)
    found = RESOURCES.get(info.uri)
    if found is None or found.module != info.module:
        raise RuntimeError(f"{info.module} declares no resource {info.uri}: {FILE.name} is stale; {REWRITE}")
    return found
