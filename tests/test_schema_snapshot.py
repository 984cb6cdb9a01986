"""The tool surface is checked in: any change to a name, description, schema or annotation must
update ``tests/snapshots/tools.json`` on purpose (``UPDATE_SNAPSHOTS=1 pytest tests/test_schema_snapshot.py``).
The server lists tools from the catalogue built ahead of time: write it first
(``python -m outperform_mcp.server.prebuilt``; ``tests/test_prebuilt.py`` checks it against the live build)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mcp import Client

from outperform_mcp.server import app, catalogue, registry
from outperform_mcp.server.app import Selection, build_server

from .support import offline_deps

pytestmark = pytest.mark.anyio
SNAPSHOT = Path(__file__).parent / "snapshots" / "tools.json"


async def surface(tmp_path: Path) -> list[dict[str, object]]:
    # Every toolset, the opt-in ones (insights, sql) included.
    async with offline_deps(tmp_path) as deps, Client(build_server(deps, Selection(toolsets=("all",)))) as client:
        tools = (await client.list_tools()).tools
    return [
        {
            "name": t.name,
            "title": t.title,
            "description": t.description,
            "annotations": t.annotations.model_dump(by_alias=True, exclude_none=True) if t.annotations else None,
            "inputSchema": t.input_schema,
            "outputSchema": t.output_schema,
        }
        for t in tools
    ]


async def test_tools_match_snapshot(tmp_path: Path) -> None:
    current = await surface(tmp_path)
    text = json.dumps(current, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.exists(), "no snapshot yet: run UPDATE_SNAPSHOTS=1 pytest tests/test_schema_snapshot.py"
    assert text == SNAPSHOT.read_text(encoding="utf-8"), (
        "the tool surface changed: review the diff, then UPDATE_SNAPSHOTS=1 pytest tests/test_schema_snapshot.py"
    )


async def test_tools_list_order_is_deterministic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tools/list is grouped by toolset (in TOOLSETS order), then by name, whatever order the
    catalogue holds them in or the tool modules happened to register in."""
    registry.load_all()
    first = [t["name"] for t in await surface(tmp_path)]
    expected = sorted(first, key=lambda name: (list(registry.TOOLSETS).index(registry.REGISTRY[name].toolset), name))
    assert first == expected
    assert len({registry.REGISTRY[name].toolset for name in first}) > 1  # the grouping is exercised
    listing = catalogue.stored()
    assert listing is not None
    reversed_listing = registry.Listing(dict(reversed(listing.tools.items())), listing.resources)
    monkeypatch.setattr(app, "stored", lambda: reversed_listing)
    assert [t["name"] for t in await surface(tmp_path)] == first
    monkeypatch.setattr(app, "stored", lambda: None)  # the declarations, when the catalogue is stale
    monkeypatch.setattr(registry, "REGISTRY", dict(reversed(registry.REGISTRY.items())))
    assert [t["name"] for t in await surface(tmp_path)] == first
