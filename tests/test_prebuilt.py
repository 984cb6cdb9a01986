"""Start-up lists tools and resources from ``catalogue.json``, written ahead of time: it must be
exactly what the declarations and the SDK's builds give today, a call must run the live build, and
a catalogue that no longer matches the sources must not be used."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from outperform_mcp.server import app, catalogue, prebuilt, registry
from outperform_mcp.server.app import Selection, build_server
from outperform_mcp.server.catalogue import ToolEntry

from .support import offline_deps

ROOT = Path(__file__).resolve().parents[1]
STALE = "catalogue.json is stale: run python -m outperform_mcp.server.prebuilt"

pytestmark = pytest.mark.anyio


def test_the_catalogue_is_the_live_build() -> None:
    stored = json.loads(catalogue.FILE.read_text(encoding="utf-8"))
    live = prebuilt.live_catalogue()
    assert stored["sources"] == live["sources"], STALE
    for section in ("tools", "resources"):
        assert sorted(stored[section]) == sorted(live[section]), f"{section}: {STALE}"
        for key, entry in live[section].items():
            # Text, not dict equality: key order is what tools/list sends.
            assert json.dumps(stored[section][key]) == json.dumps(entry), f"{key}: {STALE}"
    assert stored["fingerprint"] == live["fingerprint"], STALE
    assert catalogue.stored() is not None


def test_a_prebuilt_tool_runs_the_live_build_once_with_the_selection() -> None:
    listing = catalogue.stored()
    assert listing is not None
    entry = listing.tools["search_contacts"]
    assert isinstance(entry, ToolEntry)
    hidden = frozenset({"send_message"})
    (tool,) = prebuilt.build_tools([entry], hidden)
    assert isinstance(tool, prebuilt.PrebuiltTool)
    live = tool.live()
    assert tool.live() is live
    assert not isinstance(live, prebuilt.PrebuiltTool)
    assert live.parameters == tool.parameters
    assert live.output_schema == tool.output_schema
    assert getattr(live.fn_metadata, "hidden", None) == hidden


def copy_of_the_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The package's server layer copied, and the catalogue's fingerprint taken over the copy."""
    shutil.copytree(catalogue.PACKAGE / "server", tmp_path / "server", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(catalogue, "PACKAGE", tmp_path)
    assert catalogue.stored() is not None  # the copy matches as it is
    return tmp_path / "server"


@pytest.mark.parametrize(
    "change",
    [
        "a tool's docstring",
        "a result model",
        "a module added to a toolset",
        "a declaring module removed",
    ],
)
def test_a_catalogue_that_does_not_match_the_sources_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, change: str
) -> None:
    server = copy_of_the_sources(tmp_path, monkeypatch)
    if change == "a tool's docstring":
        path = server / "contacts" / "tools.py"
        path.write_text(path.read_text().replace("Find contacts", "Look up contacts", 1))
    elif change == "a result model":
        path = server / "views.py"
        path.write_text(path.read_text() + "\n# a field added\n")
    elif change == "a module added to a toolset":
        (server / "inbox" / "more.py").write_text('"""More inbox tools."""\n')
    else:
        (server / "sql" / "resources.py").unlink()
    assert catalogue.stored() is None
    assert "stale" in caplog.text


def test_a_missing_or_unreadable_catalogue_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalogue, "FILE", tmp_path / "catalogue.json")
    assert catalogue.stored() is None
    (tmp_path / "catalogue.json").write_text('{"search_contacts": {"input": {}}}')  # an older layout
    assert catalogue.stored() is None


async def listed(tmp_path: Path, selection: Selection) -> dict[str, Any]:
    async with offline_deps(tmp_path) as deps:
        server = build_server(deps, selection)
        async with Client(server) as client:
            tools = (await client.list_tools()).tools
            resources = (await client.list_resources()).resources
            templates = (await client.list_resource_templates()).resource_templates
    sdk_templates = server._resource_manager.list_templates()
    return {
        "tools": [t.model_dump(by_alias=True, exclude_none=True) for t in tools],
        "resources": [r.model_dump(by_alias=True, exclude_none=True) for r in resources],
        "templates": [t.model_dump(by_alias=True, exclude_none=True) for t in templates],
        # What the SDK derived from the reader's signature: the URI parameters and their types.
        "parameters": [t.parameters for t in sdk_templates],
        "kinds": sorted({type(t).__name__ for t in server._tool_manager.list_tools()}),
    }


@pytest.mark.parametrize(
    "selection",
    [Selection(toolsets=("all",)), Selection(), Selection(read_only=True), Selection(include=("get_conversation",))],
)
async def test_the_live_fallback_lists_what_the_catalogue_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, selection: Selection
) -> None:
    from_catalogue = await listed(tmp_path / "a", selection)
    monkeypatch.setattr(app, "stored", lambda: None)
    from_declarations = await listed(tmp_path / "b", selection)
    assert from_catalogue.pop("kinds") == ["PrebuiltTool"]
    assert from_declarations.pop("kinds") == ["CheckedTool"]
    assert from_catalogue == from_declarations
    assert from_catalogue["tools"]


async def test_the_unknown_name_error_is_the_same_from_the_catalogue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def error() -> str:
        async with offline_deps(tmp_path) as deps:
            with pytest.raises(registry.SelectionError) as caught:
                build_server(deps, Selection(toolsets=("contacts", "nope"), exclude=("serch_contacts",)))
        return str(caught.value)

    from_catalogue = await error()
    monkeypatch.setattr(app, "stored", lambda: None)
    assert await error() == from_catalogue
    assert "unknown toolset or tool: nope, serch_contacts" in from_catalogue
    assert "search_messages" in from_catalogue  # an opt-in toolset's tool, listed without importing it


def test_start_up_imports_no_toolset_module_until_a_call_needs_it(tmp_path: Path) -> None:
    # A fresh interpreter: in this one every toolset is imported already.
    script = f"""
import json, sys, anyio
from pathlib import Path
from mcp import Client
from tests.support import offline_deps
from outperform_mcp.server.app import build_server
from outperform_mcp.server.registry import TOOLSETS

# Imported at start on purpose: light modules the runtime needs (no tool or resource in them).
START = {{"inbox.uris", "messaging.modes", "messaging.approval_page"}}

def toolset_modules():
    return json.dumps(sorted(
        m.removeprefix("outperform_mcp.server.") for m in sys.modules
        if m.count(".") == 3 and m.split(".")[2] in TOOLSETS and m.removeprefix("outperform_mcp.server.") not in START
    ))

async def main():
    async with offline_deps(Path({str(tmp_path)!r})) as deps:
        server = build_server(deps)
        print(toolset_modules())
        async with Client(server) as client:
            await client.list_tools()
            await client.list_resource_templates()
            print(toolset_modules())
            await client.call_tool("list_inbound", {{}})
            await client.read_resource("outperform://inbox")
            print(toolset_modules())
        tool = server._tool_manager.get_tool("search_contacts")
        print(json.dumps(sorted(tool.live().fn_metadata.hidden)))
        print(toolset_modules())

anyio.run(main)
"""
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT, timeout=60
    )
    at_start, listed, called, hidden, built = map(json.loads, run.stdout.splitlines())
    assert at_start == [], "start-up imported a toolset module"
    assert listed == [], "tools/list or resources/templates/list imported a toolset module"
    assert called == ["inbox.resources", "inbox.tools"], "the first call and read import their modules only"
    assert "search_messages" in hidden  # an insights tool: not offered by default, so never hinted at
    assert built == ["contacts.labels", "contacts.tools", "inbox.resources", "inbox.tools"]
