"""``get_contact`` when the API's search does not find a contact by its token (the vendor's page does
not say that it does): the client falls back through the contact's conversation, against the emulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from outperform_mcp.api.client import OutPerformClient
from outperform_mcp.api.models import NewContact
from outperform_mcp.sandbox import state as emulator_state
from outperform_mcp.sandbox.models import Contact as EmulatedContact
from outperform_mcp.settings import ApiSettings

from .support import api_settings, call, control, error_text, server_for

pytestmark = pytest.mark.anyio

real_matches = emulator_state._matches
Matcher = Callable[..., bool]


def search_without_tokens(contact: EmulatedContact, search: str, *, tokens: bool = True) -> bool:
    return real_matches(contact, search, tokens=False)


def search_finds_nothing(contact: EmulatedContact, search: str, *, tokens: bool = True) -> bool:
    return False


def stats(emulator: Any) -> dict[str, int]:
    return dict(control(emulator, "GET", "stats")["requests"])


@pytest.fixture
def settings(emulator: Any, tmp_path: Path) -> ApiSettings:
    return api_settings(emulator, tmp_path)


def daniel(emulator: Any) -> EmulatedContact:
    return next(c for c in emulator.emulator.state.contacts if c.name == "Daniel Lee")


@pytest.mark.parametrize(
    ("search", "labels", "searches", "conversation_reads"),
    [
        (real_matches, ["lead", "event-2026"], 1, 0),  # found by token: one search, nothing else
        (search_without_tokens, ["lead", "event-2026"], 2, 1),  # token missed, found by the thread's phone
        (search_finds_nothing, [], 2, 1),  # only the thread knows them: name and phone from there
    ],
)
async def test_fallback_through_the_conversation(
    settings: ApiSettings,
    emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    search: Matcher,
    labels: list[str],
    searches: int,
    conversation_reads: int,
) -> None:
    expected = daniel(emulator)
    monkeypatch.setattr(emulator_state, "_matches", search)
    async with OutPerformClient(settings) as api:
        await api.list_labels()
        control(emulator, "POST", "stats/reset")
        found = await api.get_contact(expected.prospect_token)
    assert found is not None
    assert (found.token, found.name, found.phone) == (expected.prospect_token, "Daniel Lee", expected.contact)
    assert found.labels == labels
    counts = stats(emulator)
    assert counts["list_contacts"] == searches
    assert counts.get("list_conversations", 0) == conversation_reads


async def test_no_conversation_and_no_search_hit_is_none(
    settings: ApiSettings, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with OutPerformClient(settings) as api:
        created = await api.create_contact(NewContact(name="Quiet Lead", phone="60111222333"))
        monkeypatch.setattr(emulator_state, "_matches", search_without_tokens)
        assert await api.get_contact(created.token) is None  # no thread to fall back on
        assert await api.get_contact("f" * 32) is None


@pytest.mark.parametrize("search", [search_without_tokens, search_finds_nothing])
async def test_the_tool_shows_the_fallback_contact(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, search: Matcher
) -> None:
    expected = daniel(emulator)
    monkeypatch.setattr(emulator_state, "_matches", search)
    async with server_for(emulator, tmp_path) as (server, _), Client(server) as client:
        detail = await call(client, "get_contact", {"token": expected.prospect_token})
        missing = await error_text(client, "get_contact", {"token": "f" * 32})
    assert detail["name"] == "Daniel Lee"
    assert detail["window"]["open"] is True
    assert detail["last_message"]["text"] == expected.messages[-1].text
    assert "search_contacts" in missing
