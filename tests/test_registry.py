"""The registry decides the whole surface: a filtered-out toolset serves no tools and no resources."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from outperform_mcp.server.app import Selection, build_server
from outperform_mcp.server.registry import RESOURCES, TOOLSETS, load_all

from .support import offline_deps

pytestmark = pytest.mark.anyio

ALL = {
    "outperform://labels",
    "outperform://contacts/{token}",
    "outperform://contacts/{token}/conversation",
    "outperform://inbox",
    "outperform://inbox/{token}",
    "outperform://templates",
}
# The opt-in toolsets' resources: served only when insights / sql are asked for.
MIRROR = {"outperform://mirror/status", "outperform://mirror/views"}


async def served(tmp_path: Path, selection: Selection) -> set[str]:
    async with offline_deps(tmp_path) as deps, Client(build_server(deps, selection)) as client:
        static = {str(r.uri) for r in (await client.list_resources()).resources}
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        return static | templates


def test_every_resource_belongs_to_a_toolset() -> None:
    load_all()
    assert set(RESOURCES) == ALL | MIRROR
    assert {r.toolset for r in RESOURCES.values()} <= set(TOOLSETS)


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (Selection(), ALL),
        (Selection(read_only=True), ALL),  # resources only read
        (Selection(toolsets=("inbox",)), {"outperform://inbox", "outperform://inbox/{token}"}),
        (Selection(toolsets=("contacts",)), {"outperform://labels", "outperform://contacts/{token}"}),
        (Selection(toolsets=("messaging",)), {"outperform://templates"}),
        (Selection(toolsets=("all",)), ALL | MIRROR),
        (Selection(toolsets=("sql",)), {"outperform://mirror/views"}),
        (Selection(include=("get_conversation",)), {"outperform://contacts/{token}/conversation"}),
        (
            Selection(exclude=("list_inbound", "mark_handled", "wait_for_reply")),
            ALL - {"outperform://inbox", "outperform://inbox/{token}"},
        ),
    ],
)
async def test_filters_apply_to_resources(tmp_path: Path, selection: Selection, expected: set[str]) -> None:
    assert await served(tmp_path, selection) == expected


async def test_a_filtered_out_resource_cannot_be_read(tmp_path: Path) -> None:
    async with offline_deps(tmp_path) as deps, Client(build_server(deps, Selection(toolsets=("contacts",)))) as c:
        with pytest.raises(MCPError):
            await c.read_resource("outperform://inbox")
