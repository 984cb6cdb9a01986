"""What holds at the moment of sending, not only when a send is asked for: the whole policy is run
again on the contacts as they are then, the link of a pending approval stays the same, a send that
cannot go out is never put to a human, and the loser of a commit race is told the truth."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from outperform_mcp.guard.service import SendService
from outperform_mcp.store import journal
from outperform_mcp.store.contacts import record_inbound
from outperform_mcp.store.optout import DEFAULT

from .guard_harness import Human, decide, guard_settings, guarded, http_app, open_page, people, sent
from .support import call, control, error_text

pytestmark = pytest.mark.anyio

TEMPLATE = "holiday_greetings_v1"


def codes(out: dict[str, Any]) -> list[str]:
    return [r["code"] for r in out["refusals"]]


@pytest.mark.parametrize("where", ["inbox", "conversation"])
async def test_stop_while_pending_refuses_at_commit(emulator: Any, tmp_path: Path, where: str) -> None:
    p = people(emulator)
    async with guarded(emulator, tmp_path, approval_mode="host") as (server, deps), Client(server) as c:
        prepared = await call(c, "send_message", {"token": p.daniel, "text": "Promo inside"})
        assert prepared["status"] == "awaiting_commit"
        if where == "inbox":  # the webhook's STOP, as the inbox records it
            phone = prepared["messages"][0]["phone"]
            await deps.store.run(
                lambda conn: record_inbound(conn, phone=phone, at=datetime.now(UTC), text="Stop please", rules=DEFAULT)
            )
        else:  # a STOP the API's conversation shows
            control(emulator, "POST", "inbound", {"prospect_token": p.daniel, "text": "STOP", "deliver": False})
        out = await call(
            c, "commit_send", {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
        )
    assert out["status"] == "refused"
    assert codes(out) == ["opted_out"]
    assert "opted out" in out["message"] or "opted out" in out["refusals"][0]["reason"]
    assert sent(emulator) == []


async def test_template_dropped_from_allow_list_while_pending_is_refused(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with (
        guarded(emulator, tmp_path, approval_mode="host", template_allowlist=TEMPLATE) as (server, deps),
        Client(server) as c,
    ):
        prepared = await call(c, "send_template", {"tokens": [p.aisha], "template": TEMPLATE})
        # as after a restart with a new list
        deps.guard.settings = deps.guard.settings.model_copy(update={"template_allowlist": ("another_template",)})
        out = await call(
            c, "commit_send", {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
        )
    assert out["status"] == "refused"
    assert codes(out) == ["template_not_allowed"]
    assert sent(emulator) == []


async def test_window_closed_by_the_time_of_sending_is_refused(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with (
        guarded(emulator, tmp_path, approval_mode="host", approval_ttl=86_400) as (server, deps),
        Client(server) as c,
    ):
        prepared = await call(c, "send_message", {"token": p.daniel, "text": "Hi"})
        later = datetime.now(UTC) + timedelta(hours=23, minutes=59)
        deps.guard.clock = deps.guard.planner.clock = lambda: later  # the human answers a day later
        out = await call(
            c, "commit_send", {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
        )
    assert out["status"] == "refused"
    assert codes(out) == ["window_closed"]
    assert sent(emulator) == []


async def test_contact_gone_by_the_time_of_sending_is_refused(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with guarded(emulator, tmp_path, approval_mode="host") as (server, _), Client(server) as c:
        prepared = await call(c, "send_template", {"tokens": [p.aisha], "template": TEMPLATE})
        state = emulator.emulator.state  # the contact is deleted in the CRM meanwhile
        state.contacts.remove(state.by_token.pop(p.aisha))
        out = await call(
            c, "commit_send", {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
        )
    assert out["status"] == "refused"
    assert codes(out) == ["unknown_contact"]
    assert sent(emulator) == []


async def test_page_says_the_send_was_refused_and_why(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with guarded(emulator, tmp_path) as (server, deps), http_app(server, deps), Client(server) as c:
        out = await call(c, "send_message", {"token": p.daniel, "text": "Promo inside"})
        _page, token = await open_page(out["approval_url"])
        assert token is not None
        control(emulator, "POST", "inbound", {"prospect_token": p.daniel, "text": "ＳＴＯＰ 🛑", "deliver": False})
        done = await decide(out["approval_url"], "approve", token)
        log = await call(c, "list_sends", {"approval_id": out["approval_id"]})
    assert done.status_code == 200
    assert "Not sent" in done.text
    assert "opted out" in done.text
    assert [i["status"] for i in log["items"]] == ["refused"]
    assert sent(emulator) == []


async def test_repeated_pending_send_keeps_its_link(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    args = {"tokens": [p.aisha], "template": TEMPLATE}
    async with guarded(emulator, tmp_path) as (server, deps), http_app(server, deps), Client(server) as c:
        first = await call(c, "send_template", args)
        page, token = await open_page(first["approval_url"])  # the human opens it...
        again = await call(c, "send_template", args)  # ...while the agent calls again
        assert again["approval_url"] == first["approval_url"]
        assert (await open_page(first["approval_url"]))[0].status_code == 200
        # A restarted server (new process keys) gives the same link for the same approval.
        assert deps.api is not None
        restarted = SendService(deps.api, deps.store, guard_settings())
        assert await restarted.issue_link_secret(first["approval_id"]) == first["approval_url"].rsplit("/", 1)[1]
        assert token is not None
        done = await decide(first["approval_url"], "approve", token)
    assert page.status_code == 200
    assert done.status_code == 200
    assert len(sent(emulator)) == 1


async def test_missing_instance_is_refused_before_anyone_is_asked(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    human = Human()
    async with (
        guarded(emulator, tmp_path, api={"instance_id": None}) as (server, _),
        Client(server, elicitation_callback=human) as c,
    ):
        text = await error_text(c, "send_message", {"token": p.daniel, "text": "Hi"})
        with_instance = await call(c, "send_message", {"token": p.daniel, "text": "Hi", "instance_id": "inst-1"})
    assert "instance_id" in text
    assert "OUTPERFORM_INSTANCE_ID" in text
    assert len(human.shown) == 1  # only the send that names its instance was put to the human
    assert with_instance["status"] == "sent"
    assert len(sent(emulator)) == 1


async def test_commit_racing_a_send_in_progress_says_so(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with guarded(emulator, tmp_path, approval_mode="host") as (server, deps), Client(server) as c:
        prepared = await call(c, "send_template", {"tokens": [p.daniel, p.aisha], "template": TEMPLATE})
        approval_id = prepared["approval_id"]
        now = datetime.now(UTC)

        def winner_mid_send(conn: sqlite3.Connection) -> None:
            # Another commit won: the approval is used and its first message is on the wire.
            journal.transition(
                conn, approval_id, from_status="pending", to_status="approved", at=now, send_status="approved"
            )
            journal.transition(conn, approval_id, from_status="approved", to_status="used", at=now)
            journal.mark_sending(conn, journal.sends_of(conn, approval_id)[0].id, now)

        await deps.store.run(winner_mid_send)
        out = await call(c, "commit_send", {"approval_id": approval_id, "commit_code": prepared["commit_code"]})
    assert out["status"] == "in_progress"
    assert "another call is sending" in out["message"].lower()
    assert "list_sends(approval_id=" in out["message"]
    assert "connection broke" not in out["message"]
    assert sent(emulator) == []


async def test_number_changed_by_the_time_of_sending_is_refused(emulator: Any, tmp_path: Path) -> None:
    """The human approved a number; if the contact's number changed since, that is not what they approved."""
    p = people(emulator)
    async with guarded(emulator, tmp_path, approval_mode="host") as (server, _), Client(server) as c:
        prepared = await call(c, "send_template", {"tokens": [p.aisha], "template": TEMPLATE})
        emulator.emulator.state.by_token[p.aisha].contact = "60190009999"
        out = await call(
            c, "commit_send", {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
        )
    assert out["status"] == "refused"
    assert codes(out) == ["contact_changed"]
    assert sent(emulator) == []


async def test_api_trouble_at_the_recheck_sends_nothing_and_keeps_the_approval(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    no_retries = {"retry_attempts": 1}
    async with guarded(emulator, tmp_path, approval_mode="host", api=no_retries) as (server, _), Client(server) as c:
        prepared = await call(c, "send_template", {"tokens": [p.aisha], "template": TEMPLATE})
        args = {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
        control(emulator, "POST", "faults", {"rules": [{"operation": "*", "kind": "malformed", "count": 100}]})
        await error_text(c, "commit_send", args)
        control(emulator, "DELETE", "faults")
        still = await call(c, "list_sends", {"approval_id": prepared["approval_id"]})
        assert [i["status"] for i in still["items"]] == ["prepared"]
        assert sent(emulator) == []
        done = await call(c, "commit_send", args)
    assert done["status"] == "sent"
    assert len(sent(emulator)) == 1
