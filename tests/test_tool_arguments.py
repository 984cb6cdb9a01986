"""Bad tool arguments get one line per problem with what to pass instead, no pydantic links;
unknown argument names are refused with the valid ones; absurd numbers and dates are bounded in
the schema and refused with a clear error (never "Error executing tool" or a wrong API error)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from outperform_mcp.server.app import build_server
from outperform_mcp.server.runtime import open_deps
from outperform_mcp.settings import InboxSettings, Settings

from .support import api_settings, error_text

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(emulator: Any, tmp_path: Path) -> AsyncIterator[Client]:
    inbox = InboxSettings.model_validate({"webhook_secret": "s" * 32})
    async with (
        open_deps(Settings(api=api_settings(emulator, tmp_path), inbox=inbox)) as deps,
        Client(build_server(deps)) as c,
    ):
        yield c


async def test_each_problem_on_its_own_line_without_pydantic_links(client: Client) -> None:
    text = await error_text(client, "get_contact", {"token": "no spaces allowed"})
    assert "errors.pydantic.dev" not in text
    assert "get_contactArguments" not in text
    lines = text.splitlines()
    assert lines[0] == "invalid arguments for get_contact:"
    assert lines[1].startswith("- token: String should match pattern")
    assert "expected: Contact token (from search_contacts)" in lines[1]

    two = await error_text(client, "search_contacts", {"limit": 500, "page": 0})
    assert [line.split(":")[0] for line in two.splitlines()[1:]] == ["- page", "- limit"]
    missing = await error_text(client, "get_conversation", {})
    assert "- token: missing (expected: Contact token" in missing


async def test_unknown_argument_names_are_refused_with_the_valid_ones(client: Client) -> None:
    text = await error_text(client, "search_contacts", {"name": "Daniel"})
    assert "- name: no such argument; valid arguments are: search, label, page, limit" in text


@pytest.mark.parametrize(
    ("tool", "args", "where"),
    [
        ("list_inbound", {"since": 2**63}, "since"),
        ("mark_handled", {"ids": [2**64]}, "ids.0"),
        ("mark_handled", {"up_to": 2**63}, "up_to"),
        ("wait_for_reply", {"token": "abcdefgh12", "since": 2**63, "seconds": 1}, "since"),
        ("list_conversations", {"start_date": "9999-12-31"}, "start_date"),
        ("get_conversation", {"token": "abcdefgh12", "end_date": "0001-01-01"}, "end_date"),
        ("search_contacts", {"page": 10**12}, "page"),
    ],
)
async def test_out_of_range_numbers_and_dates_are_refused(
    client: Client, tool: str, args: dict[str, Any], where: str
) -> None:
    text = await error_text(client, tool, args)
    assert f"- {where}: " in text
    assert "Error executing tool" not in text
    assert "unreachable" not in text


async def test_bounds_are_in_the_schema(client: Client) -> None:
    tools = {t.name: t.input_schema for t in (await client.list_tools()).tools}
    assert tools["list_inbound"]["properties"]["since"]["maximum"] == 2**53 - 1
    assert tools["mark_handled"]["properties"]["ids"]["items"]["maximum"] == 2**53 - 1
    assert tools["list_conversations"]["properties"]["start_date"]["formatMaximum"] == "2099-12-31"
