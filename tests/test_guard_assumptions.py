"""What the guard relies on degrades safely when the real API differs from the emulator's
assumptions (README, "Assumptions"): opt-out holds without labels, and a contact this server just
created is found for a send when search does not match tokens and there is no conversation yet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from .guard_harness import guarded, people, sent
from .support import call, control

pytestmark = pytest.mark.anyio


async def test_opt_out_holds_when_the_api_returns_no_labels(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with guarded(emulator, tmp_path) as (server, _), Client(server) as c:
        emulator.emulator.state.by_token[p.farid].labels = []  # an API without labels on contacts
        out = await call(c, "send_template", {"tokens": [p.farid], "template": "holiday_greetings_v1", "dry_run": True})
    assert out["status"] == "refused"
    assert [r["code"] for r in out["refusals"]] == ["opted_out"]
    assert "'STOP'" in out["refusals"][0]["reason"]  # from the conversation, not a label
    assert sent(emulator) == []


async def test_a_contact_created_here_is_found_without_token_search(emulator: Any, tmp_path: Path) -> None:
    async with guarded(emulator, tmp_path) as (server, _), Client(server) as c:
        control(emulator, "POST", "config", {"search_matches_tokens": False})
        created = await call(c, "create_contact", {"name": "New Lead", "phone": "+60 19-555 0101"})
        found = await call(c, "search_contacts", {"search": created["token"]})
        assert found["items"] == []  # this API's search does not know tokens, and there is no thread
        out = await call(
            c, "send_template", {"tokens": [created["token"]], "template": "holiday_greetings_v1", "dry_run": True}
        )
    assert out["status"] == "dry_run"
    assert out["messages"][0]["name"] == "New Lead"
    assert out["messages"][0]["phone"] == "60195550101"
