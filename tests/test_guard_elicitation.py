"""Approval by form elicitation through a real MCP client, in both protocol eras: accept, decline,
cancel, no answer, batches, dry runs, repeats and retries. The emulator's sent log is the truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp import Client, MCPError

from .guard_harness import MODES, Human, guarded, people, sent
from .support import Clock, call, error_text

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", MODES)
async def test_accept_sends_exactly_what_the_human_saw(emulator: Any, tmp_path: Path, mode: str) -> None:
    p = people(emulator)
    human = Human("accept")
    async with guarded(emulator, tmp_path) as (server, _), Client(server, mode=mode, elicitation_callback=human) as c:
        out = await call(c, "send_message", {"token": p.daniel, "text": "Hi Daniel, the unit is still available."})
    assert out["status"] == "sent", out
    assert out["messages"][0]["status"] == "sent"
    assert out["messages"][0]["message_id"]
    assert len(human.shown) == 1
    shown = human.shown[0]
    for expected in ("Daniel Lee", "+60129928376", "Hi Daniel, the unit is still available.", "Allowed because"):
        assert expected in shown
    assert "window with Daniel Lee open until" in shown
    log = sent(emulator)
    assert [(r["prospect_token"], r["text"]) for r in log] == [(p.daniel, "Hi Daniel, the unit is still available.")]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("human", "status"), [("decline", "declined"), ("cancel", "cancelled"), ("untick", "declined")]
)
async def test_no_yes_sends_nothing_and_says_so(
    emulator: Any, tmp_path: Path, mode: str, human: str, status: str
) -> None:
    p = people(emulator)
    answer = Human("accept", send=False) if human == "untick" else Human(human)
    async with guarded(emulator, tmp_path) as (server, _), Client(server, mode=mode, elicitation_callback=answer) as c:
        out = await call(c, "send_message", {"token": p.daniel, "text": "Hello"})
        log = await call(c, "list_sends", {})
    assert out["status"] == status
    assert "Nothing was sent" in out["message"]
    assert sent(emulator) == []
    assert [i["status"] for i in log["items"]] == ["rejected"]


async def test_no_answer_in_time_handshake_era(emulator: Any, tmp_path: Path) -> None:
    """Handshake era: the elicitation request itself times out."""
    p = people(emulator)
    slow = Human("accept", never_answers=True)
    async with (
        guarded(emulator, tmp_path, elicitation_timeout=0.3) as (server, _),
        Client(server, mode="legacy", elicitation_callback=slow) as c,
    ):
        out = await call(c, "send_message", {"token": p.daniel, "text": "Hello"})
        log = await call(c, "list_sends", {})
    assert out["status"] == "expired"
    assert "No answer within 0.3 s" in out["message"]
    assert log["items"][0]["status"] == "expired"
    assert sent(emulator) == []


async def test_no_answer_in_time_modern_era(emulator: Any, tmp_path: Path) -> None:
    """2026-07-28: the client answers by retrying; an answer that comes after the approval
    expired finds it expired and sends nothing, even though the human said yes."""
    p = people(emulator)
    clock = Clock()
    late = Human("accept", thinks=(clock, 61))
    async with (
        guarded(emulator, tmp_path, approval_ttl=60, clock=clock) as (server, _),
        Client(server, mode="auto", elicitation_callback=late) as c,
    ):
        out = await call(c, "send_message", {"token": p.daniel, "text": "Hello"})
        log = await call(c, "list_sends", {})
    assert len(late.shown) == 1
    assert out["status"] == "expired"
    assert "Nothing was sent" in out["message"]
    assert [i["status"] for i in log["items"]] == ["expired"]
    assert sent(emulator) == []


async def test_modern_retry_reuses_the_prepared_approval(emulator: Any, tmp_path: Path) -> None:
    """The tool body runs twice on 2026-07-28 (ask, then the retry with the answer): one record."""
    p = people(emulator)
    async with (
        guarded(emulator, tmp_path) as (server, _),
        Client(server, mode="auto", elicitation_callback=Human()) as c,
    ):
        out = await call(c, "send_message", {"token": p.daniel, "text": "Hello once"})
        log = await call(c, "list_sends", {})
    assert out["status"] == "sent"
    assert len(log["items"]) == 1
    assert log["items"][0]["approval_id"] == out["approval_id"]
    assert len(sent(emulator)) == 1


async def test_modern_answer_cannot_release_another_payload(emulator: Any, tmp_path: Path) -> None:
    """Take the 'yes' the human gave for one text and replay it with another text: nothing is sent."""
    p = people(emulator)
    async with (
        guarded(emulator, tmp_path) as (server, _),
        Client(server, mode="auto", elicitation_callback=Human()) as c,
    ):
        asked = await c.session.call_tool(
            "send_message", {"token": p.daniel, "text": "Shown text"}, allow_input_required=True
        )
        assert isinstance(asked, types.InputRequiredResult)
        assert asked.input_requests is not None
        key = next(iter(asked.input_requests))
        yes = {key: types.ElicitResult(action="accept", content={"send": True})}
        other = {"token": p.daniel, "text": "A different text"}
        # With the sealed state: it is bound to the original request and refused.
        with pytest.raises(MCPError, match="requestState"):
            await c.session.call_tool(
                "send_message",
                other,
                input_responses=yes,  # type: ignore[arg-type]
                request_state=asked.request_state,
                allow_input_required=True,
            )
        # Without it: the answer matches no question this call asked, so the human is asked again.
        again = await c.session.call_tool(
            "send_message",
            other,
            input_responses=yes,  # type: ignore[arg-type]
            allow_input_required=True,
        )
        assert isinstance(again, types.InputRequiredResult)
    assert sent(emulator) == []


@pytest.mark.parametrize("mode", MODES)
async def test_batch_is_approved_once_showing_every_recipient(emulator: Any, tmp_path: Path, mode: str) -> None:
    p = people(emulator)
    human = Human()
    async with guarded(emulator, tmp_path) as (server, _), Client(server, mode=mode, elicitation_callback=human) as c:
        out = await call(
            c,
            "send_template",
            {
                "tokens": [p.daniel, p.aisha, p.kevin],
                "template": "order_shipped_v2",
                "params": ["there", "A-17", "Friday"],
            },
        )
    assert out["status"] == "sent"
    assert len(human.shown) == 1
    text = "Hi there, good news! Your order A-17 has been shipped and should arrive by Friday."
    for name in ("Daniel Lee", "Aisha Rahman", "Kevin Ong"):
        assert name in human.shown[0]
    assert human.shown[0].count(text) == 3
    log = sent(emulator)
    assert sorted(r["prospect_token"] for r in log) == sorted([p.daniel, p.aisha, p.kevin])
    assert {r["text"] for r in log} == {text}
    assert {r["template_parameter"] for r in log} == {"there|A-17|Friday"}


@pytest.mark.parametrize("mode", MODES)
async def test_dry_run_sends_nothing_and_asks_nobody(emulator: Any, tmp_path: Path, mode: str) -> None:
    p = people(emulator)
    human = Human()
    async with guarded(emulator, tmp_path) as (server, _), Client(server, mode=mode, elicitation_callback=human) as c:
        out = await call(
            c,
            "send_template",
            {"tokens": [p.aisha], "template": "reengagement_hello_v1", "params": ["Aisha"], "dry_run": True},
        )
        log = await call(c, "list_sends", {})
    assert out["status"] == "dry_run"
    assert out["messages"][0]["text"].startswith("Hi Aisha, it's been a while!")
    assert out["messages"][0]["name"] == "Aisha Rahman"
    assert human.shown == []
    assert log["items"] == []
    assert sent(emulator) == []


@pytest.mark.parametrize("mode", MODES)
async def test_retried_call_never_sends_twice(emulator: Any, tmp_path: Path, mode: str) -> None:
    """A client that retries the same call (e.g. after a timeout) gets the first outcome back."""
    p = people(emulator)
    human = Human()
    args = {"token": p.daniel, "text": "Your viewing is confirmed for 3pm."}
    async with guarded(emulator, tmp_path) as (server, _), Client(server, mode=mode, elicitation_callback=human) as c:
        first = await call(c, "send_message", args)
        again = await call(c, "send_message", args)
    assert first["status"] == again["status"] == "sent"
    assert again["approval_id"] == first["approval_id"]
    assert "not sent twice" in again["message"]
    assert len(human.shown) == 1
    assert len(sent(emulator)) == 1


async def test_repeat_from_another_client_needs_its_own_approval_marked_repeat(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    first, second = Human(), Human()
    args = {"token": p.daniel, "text": "Reminder: viewing at 3pm."}
    other = types.Implementation(name="other-agent", version="1.0")
    async with guarded(emulator, tmp_path) as (server, _):
        async with Client(server, mode="legacy", elicitation_callback=first) as c:
            assert (await call(c, "send_message", args))["status"] == "sent"
        async with Client(server, mode="legacy", elicitation_callback=second, client_info=other) as c:
            out = await call(c, "send_message", args)
    assert "REPEAT" not in first.shown[0]
    assert "REPEAT: the same message to this contact was sent" in second.shown[0]
    assert out["status"] == "sent"
    assert out["messages"][0]["repeat_of"] is not None
    assert len(sent(emulator)) == 2  # the human approved both, knowingly


@pytest.mark.parametrize("mode", MODES)
async def test_bad_input_is_a_clear_tool_error(emulator: Any, tmp_path: Path, mode: str) -> None:
    p = people(emulator)
    async with guarded(emulator, tmp_path) as (server, _), Client(server, mode=mode, elicitation_callback=Human()) as c:
        wrong_count = await error_text(
            c, "send_template", {"tokens": [p.daniel], "template": "order_shipped_v2", "params": ["x"]}
        )
        unknown = await error_text(c, "send_template", {"tokens": [p.daniel], "template": "no_such_template"})
        twice = await error_text(
            c, "send_template", {"tokens": [p.daniel, p.daniel], "template": "holiday_greetings_v1"}
        )
        pipe = await error_text(
            c, "send_template", {"tokens": [p.daniel], "template": "reengagement_hello_v1", "params": ["a|b"]}
        )
        number = await error_text(c, "send_message", {"token": "+60123456789", "text": "hi"})
    assert "takes 3 parameter(s), got 1" in wrong_count
    assert "unknown template no_such_template; known templates:" in unknown
    assert "listed twice" in twice
    assert "cannot contain '|'" in pipe
    assert "token" in number.lower()
    assert sent(emulator) == []
