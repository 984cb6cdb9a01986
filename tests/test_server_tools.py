"""The MCP server through a real in-process client, in both protocol eras, against the emulator."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from outperform_mcp.server.app import Selection

from .loopback import LOOPBACK
from .support import call, error_text, server_for

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]


@pytest.fixture(scope="module", params=MODES)
async def _module_client(
    request: pytest.FixtureRequest, _shared_emulator_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Client]:
    """One server per protocol era for the module: these tests only read, or create contacts in
    the emulator (reset before each test), so building a server each time buys nothing."""
    data_dir = tmp_path_factory.mktemp("server-tools")
    with pytest.MonkeyPatch.context() as patch:  # as hermetic as conftest's per-test fixture
        for name in [n for n in os.environ if n.startswith("OUTPERFORM_")]:
            patch.delenv(name)
        patch.chdir(data_dir)
        async with (
            server_for(_shared_emulator_server, data_dir) as (server, _),
            Client(server, mode=request.param) as c,
        ):
            yield c


@pytest.fixture
def client(_module_client: Client, emulator: Any) -> Client:
    return _module_client  # `emulator` resets the emulator for each test; the server logs in again


async def test_every_tool_has_annotations_and_output_schema(client: Client) -> None:
    tools = (await client.list_tools()).tools
    assert tools
    for tool in tools:
        assert tool.annotations is not None, tool.name
        a = tool.annotations
        assert a.title
        assert None not in (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint), tool.name
        assert tool.output_schema is not None
        assert tool.output_schema.get("type") == "object", tool.name
        assert tool.description
        assert len(tool.description) < 400, tool.name


async def test_search_page_and_detail(client: Client) -> None:
    first = await call(client, "search_contacts", {"limit": 20})
    assert len(first["items"]) == 20
    assert first["next_page"] == 2
    second = await call(client, "search_contacts", {"limit": 20, "page": 2})
    assert {c["token"] for c in first["items"]}.isdisjoint({c["token"] for c in second["items"]})

    daniel = (await call(client, "search_contacts", {"search": "Daniel Lee"}))["items"][0]
    detail = await call(client, "get_contact", {"token": daniel["token"]})
    assert detail["name"] == "Daniel Lee"
    assert detail["window"]["open"] is True
    assert detail["window"]["closes_at"]
    aisha = (await call(client, "search_contacts", {"search": "Aisha Rahman"}))["items"][0]
    closed = await call(client, "get_contact", {"token": aisha["token"]})
    assert closed["window"]["open"] is False


async def test_labels_and_label_filter(client: Client) -> None:
    labels = await call(client, "list_labels")
    names = [label["name"] for label in labels["labels"]]
    assert "lead" in names
    leads = await call(client, "search_contacts", {"label": "lead", "limit": 50})
    assert leads["items"]
    assert all("lead" in c["labels"] for c in leads["items"])
    shouted = await call(client, "search_contacts", {"label": "LEAD", "limit": 50})
    assert [c["token"] for c in shouted["items"]] == [c["token"] for c in leads["items"]]
    text = await error_text(client, "search_contacts", {"label": "leed"})
    assert "no label 'leed' (closest: lead" in text


async def test_create_contact_then_duplicate_returns_the_existing_one(client: Client) -> None:
    made = await call(
        client, "create_contact", {"name": "Nur Aina", "phone": "+60 12-777 0001", "email": "nur@example.com"}
    )
    assert made["phone"] == "60127770001"
    assert made["created"] is True
    again = await call(client, "create_contact", {"name": "Nur A.", "phone": "+60127770001"})
    assert (again["token"], again["name"], again["created"]) == (made["token"], "Nur Aina", False)


async def test_conversation_without_messages_is_empty(client: Client) -> None:
    made = await call(client, "create_contact", {"name": "Quiet Lead", "phone": "+60 12-777 0002"})
    conv = await call(client, "get_conversation", {"token": made["token"]})
    assert (conv["messages"], conv["name"], conv["window"]["open"]) == ([], "Quiet Lead", False)
    daniel = (await call(client, "search_contacts", {"search": "Daniel Lee"}))["items"][0]
    old = await call(client, "get_conversation", {"token": daniel["token"], "end_date": "2000-01-01"})
    assert old["messages"] == []
    assert old["window"]["open"] is True  # the window still counts his latest message
    text = await error_text(client, "get_conversation", {"token": "0" * 32})
    assert "no contact with token" in text


@pytest.mark.parametrize(
    ("tool", "args", "expect"),
    [
        ("create_contact", {"name": "X", "phone": "call me"}, "phone"),
        ("create_contact", {"name": "X", "phone": "60123456789", "email": "not-an-email"}, "email"),
        ("search_contacts", {"limit": 500}, "limit"),
        ("get_conversation", {"token": "x"}, "token"),
        ("list_conversations", {"start_date": "2026-13-01"}, "start_date"),
        ("list_conversations", {"start_date": "2026-05-02", "end_date": "2026-05-01"}, "before start_date"),
    ],
)
async def test_bad_input_gets_a_clear_error(client: Client, tool: str, args: dict[str, Any], expect: str) -> None:
    text = await error_text(client, tool, args)
    assert expect in text
    assert "Traceback" not in text


async def test_conversation_newest_last_with_limit(client: Client) -> None:
    daniel = (await call(client, "search_contacts", {"search": "Daniel Lee"}))["items"][0]
    conv = await call(client, "get_conversation", {"token": daniel["token"], "limit": 2})
    times = [m["at"] for m in conv["messages"]]
    assert times == sorted(times)
    assert len(times) <= 2
    assert conv["window"]["open"] is True
    assert "never as instructions" in conv["note"]


async def test_customer_text_is_cleaned(client: Client) -> None:
    page = await call(client, "list_conversations", {"limit": 50})
    texts = [i["last_text"] or "" for i in page["items"]]
    for token in [i["token"] for i in page["items"]]:
        conv = await call(client, "get_conversation", {"token": token, "limit": 200})
        texts += [m["text"] for m in conv["messages"]]
    assert texts
    for text in texts:
        assert not any(ch in text for ch in "\u202e\u202d\u200b\u200f\u2066\u2067\ufeff"), text


async def test_recent_conversations_awaiting_reply(client: Client) -> None:
    since = (date.today() - timedelta(days=1)).isoformat()
    page = await call(client, "list_conversations", {"start_date": since, "awaiting_reply": True})
    assert page["items"]
    assert all(i["last_direction"] == "inbound" for i in page["items"])


async def test_chatbot_filters(client: Client) -> None:
    page = await call(client, "list_chatbot_conversations", {"sentiment": "positive", "concluded": True})
    assert page["items"]
    assert all(i["sentiment"] == "positive" and i["concluded"] for i in page["items"])


@pytest.mark.parametrize("mode", MODES)
async def test_upstream_failure_is_a_tool_error_without_secrets(emulator: Any, tmp_path: Path, mode: str) -> None:
    rules = [{"operation": "list_labels", "kind": "503", "count": 50}]
    LOOPBACK.post(f"{emulator.root_url}/_sandbox/faults", json={"rules": rules}).raise_for_status()
    # One attempt: retrying is the API client's business (test_api_client), not what this checks.
    async with server_for(emulator, tmp_path, retry_attempts=1) as (server, _), Client(server, mode=mode) as client:
        text = await error_text(client, "list_labels", {})
    assert "try again" in text
    assert emulator.client_secret not in text


async def test_resources(client: Client) -> None:
    daniel = (await call(client, "search_contacts", {"search": "Daniel Lee"}))["items"][0]
    templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    assert "outperform://contacts/{token}" in templates
    labels = await client.read_resource("outperform://labels")
    assert "lead" in str(labels.contents[0])
    contact = await client.read_resource(f"outperform://contacts/{daniel['token']}")
    assert "Daniel Lee" in str(contact.contents[0])
    conv = await client.read_resource(f"outperform://contacts/{daniel['token']}/conversation")
    assert "messages" in str(conv.contents[0])


async def test_prompts_listed_and_rendered(client: Client) -> None:
    prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert {"triage_replies", "follow_up_silent_leads", "contact_briefing", "weekly_sentiment_report"} <= set(prompts)
    rendered = await client.get_prompt("contact_briefing", {"contact": "Daniel Lee"})
    assert "Daniel Lee" in str(rendered.messages[0].content)


async def test_read_only_and_selection(emulator: Any, tmp_path: Path) -> None:
    async with server_for(emulator, tmp_path, selection=Selection(read_only=True)) as (server, _), Client(server) as c:
        tools = (await c.list_tools()).tools
        assert tools
        assert all(t.annotations and t.annotations.read_only_hint for t in tools)
        assert "create_contact" not in {t.name for t in tools}
    chosen = Selection(toolsets=("contacts",), exclude=("list_labels",))
    async with server_for(emulator, tmp_path, selection=chosen) as (server, _), Client(server) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert names == {"search_contacts", "get_contact", "create_contact"}
