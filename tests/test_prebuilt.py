"""The schemas listed at start-up come from ``tool_schemas.json``, built ahead of time: they must
be exactly what the SDK builds from the tools' signatures today, and a call must run the live build."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from outperform_mcp.server import prebuilt
from outperform_mcp.server.registry import REGISTRY, load_all

ROOT = Path(__file__).resolve().parents[1]


def test_stored_schemas_are_the_live_build() -> None:
    load_all()
    live = prebuilt.live_schemas(list(REGISTRY.values()))
    stored = prebuilt.stored_schemas()
    assert sorted(stored) == sorted(live), "tool_schemas.json names other tools than the registry"
    for name, schemas in live.items():
        # Text, not dict equality: key order is what tools/list sends.
        assert json.dumps(stored[name]) == json.dumps(schemas), (
            f"{name}: tool_schemas.json is stale; run python -m outperform_mcp.server.prebuilt"
        )


def test_a_prebuilt_tool_runs_the_live_build_once_with_the_selection() -> None:
    load_all()
    hidden = frozenset({"send_message"})
    (tool,) = prebuilt.build_tools([REGISTRY["search_contacts"]], hidden, prebuilt.stored_schemas())
    assert isinstance(tool, prebuilt.PrebuiltTool)
    live = tool.live()
    assert tool.live() is live
    assert not isinstance(live, prebuilt.PrebuiltTool)
    assert live.parameters == tool.parameters
    assert live.output_schema == tool.output_schema
    assert getattr(live.fn_metadata, "hidden", None) == hidden


def test_a_tool_without_stored_schemas_is_built_at_start() -> None:
    load_all()
    unknown = replace(REGISTRY["search_contacts"], name="search_contacts_renamed")
    (tool,) = prebuilt.build_tools([unknown], frozenset(), prebuilt.stored_schemas())
    assert not isinstance(tool, prebuilt.PrebuiltTool)
    assert tool.parameters == prebuilt.stored_schemas()["search_contacts"]["input"]


def test_start_up_imports_only_the_selected_toolsets_and_still_hides_the_others(tmp_path: Path) -> None:
    # A fresh interpreter: in this one every toolset is imported already.
    script = f"""
import sys, anyio
from pathlib import Path
from tests.support import offline_deps
from outperform_mcp.server.app import build_server

async def main():
    async with offline_deps(Path({str(tmp_path)!r})) as deps:
        server = build_server(deps)
        tool = server._tool_manager.get_tool("search_contacts")
        print(sorted(tool.live().fn_metadata.hidden))
        print("outperform_mcp.server.insights" in sys.modules)

anyio.run(main)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT, timeout=60
    ).stdout.splitlines()
    assert "search_messages" in out[0]  # an insights tool: not offered by default, so never hinted at
    assert out[1] == "False"
