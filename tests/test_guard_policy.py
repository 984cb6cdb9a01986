"""Every policy refusal, the 24-hour rule and the no-approval mode, through a real MCP client.
A refusal is a normal result (status "refused") with the reason and the way out; nothing is sent."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp import Client

from outperform_mcp.store.contacts import record_inbound
from outperform_mcp.store.optout import DEFAULT

from .guard_harness import Human, guarded, people, sent
from .support import call, control

pytestmark = pytest.mark.anyio


def codes(out: dict[str, Any]) -> list[str]:
    return [r["code"] for r in out["refusals"]]


async def test_kill_switch(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    human = Human()
    async with (
        guarded(emulator, tmp_path, sending_enabled=False) as (server, _),
        Client(server, elicitation_callback=human) as c,
    ):
        out = await call(c, "send_template", {"tokens": [p.aisha], "template": "holiday_greetings_v1"})
    assert out["status"] == "refused"
    assert codes(out) == ["sending_disabled"]
    assert "OUTPERFORM_SENDING_ENABLED" in out["refusals"][0]["reason"]
    assert human.shown == []  # nobody is asked about a send that cannot happen
    assert sent(emulator) == []


async def test_kill_switch_also_holds_at_commit(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with guarded(emulator, tmp_path, approval_mode="host") as (server, deps), Client(server) as c:
        prepared = await call(c, "send_message", {"token": p.daniel, "text": "Hi"})
        assert deps.guard is not None
        # switched off after the approval was prepared
        deps.guard.settings = deps.guard.settings.model_copy(update={"sending_enabled": False})
        out = await call(
            c, "commit_send", {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
        )
    assert out["status"] == "refused"
    assert codes(out) == ["sending_disabled"]
    assert sent(emulator) == []


async def test_hourly_and_daily_quotas(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    tmpl = "holiday_greetings_v1"
    async with (
        guarded(emulator, tmp_path, max_sends_per_hour=2, max_sends_per_day=3) as (server, _),
        Client(server, elicitation_callback=Human()) as c,
    ):
        too_many = await call(c, "send_template", {"tokens": [p.daniel, p.aisha, p.kevin], "template": tmpl})
        assert too_many["status"] == "refused"
        assert codes(too_many) == ["quota"]
        assert "2 messages per hour" in too_many["refusals"][0]["reason"]
        assert (await call(c, "send_template", {"tokens": [p.daniel, p.aisha], "template": tmpl}))["status"] == "sent"
        hour = await call(c, "send_template", {"tokens": [p.kevin], "template": tmpl})
        log = await call(c, "list_sends", {})
    assert codes(hour) == ["quota"]
    assert "wait and try later" in hour["refusals"][0]["way_out"]
    assert log["sent_last_hour"] == 2
    assert log["hour_limit"] == 2
    assert len(sent(emulator)) == 2

    async with (
        guarded(emulator, tmp_path / "day", max_sends_per_day=1) as (server, _),
        Client(server, elicitation_callback=Human()) as c,
    ):
        assert (await call(c, "send_template", {"tokens": [p.daniel], "template": tmpl}))["status"] == "sent"
        day = await call(c, "send_template", {"tokens": [p.aisha], "template": tmpl})
    assert codes(day) == ["quota"]
    assert "per day" in day["refusals"][0]["reason"]


async def test_opt_out_label_refuses_the_whole_batch(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with guarded(emulator, tmp_path) as (server, _), Client(server, elicitation_callback=Human()) as c:
        out = await call(
            c, "send_template", {"tokens": [p.daniel, p.farid, p.grace], "template": "holiday_greetings_v1"}
        )
    assert out["status"] == "refused"
    refused = {r["to"]: r for r in out["refusals"]}
    assert set(refused) == {p.farid, p.grace}
    assert "label 'opt-out'" in refused[p.farid]["reason"]
    assert "remove them from the recipients" in refused[p.farid]["way_out"]
    assert sent(emulator) == []


async def test_configured_opt_out_labels(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with guarded(emulator, tmp_path, opt_out_labels="do-not-contact, VIP") as (server, _), Client(server) as c:
        out = await call(c, "send_template", {"tokens": [p.aisha], "template": "holiday_greetings_v1", "dry_run": True})
    assert codes(out) == ["opted_out"]
    assert "label 'vip'" in out["refusals"][0]["reason"]


async def test_stop_in_messages_blocks_sends(emulator: Any, tmp_path: Path) -> None:
    """A STOP seen by the inbox (local contact state) or in the conversation itself blocks sends."""
    p = people(emulator)
    async with guarded(emulator, tmp_path) as (server, deps), Client(server) as c:
        daniel = await call(c, "get_contact", {"token": p.daniel})

        def stop(conn: sqlite3.Connection) -> None:
            record_inbound(conn, phone=daniel["phone"], at=datetime.now(UTC), text="STOP", rules=DEFAULT)

        await deps.store.run(stop)
        local = await call(c, "send_message", {"token": p.daniel, "text": "Hi", "dry_run": True})
        control(
            emulator, "POST", "inbound", {"prospect_token": p.kevin, "text": "Please unsubscribe me", "deliver": False}
        )
        remote = await call(
            c, "send_template", {"tokens": [p.kevin], "template": "holiday_greetings_v1", "dry_run": True}
        )
    assert codes(local) == ["opted_out"]
    assert "'STOP'" in local["refusals"][0]["reason"]
    assert codes(remote) == ["opted_out"]
    assert "unsubscribe" in remote["refusals"][0]["reason"]
    assert sent(emulator) == []


async def test_template_allow_list(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with (
        guarded(emulator, tmp_path, template_allowlist="order_shipped_v2") as (server, _),
        Client(server) as c,
    ):
        refused = await call(c, "send_template", {"tokens": [p.aisha], "template": "holiday_greetings_v1"})
        allowed = await call(
            c,
            "send_template",
            {"tokens": [p.aisha], "template": "order_shipped_v2", "params": ["A", "B", "C"], "dry_run": True},
        )
    assert codes(refused) == ["template_not_allowed"]
    assert "order_shipped_v2" in refused["refusals"][0]["way_out"]
    assert allowed["status"] == "dry_run"
    assert "template order_shipped_v2 is on the allow-list" in allowed["allowed_because"]


async def test_unknown_contact_is_refused(emulator: Any, tmp_path: Path) -> None:
    async with guarded(emulator, tmp_path) as (server, _), Client(server) as c:
        out = await call(c, "send_template", {"tokens": ["0" * 32], "template": "holiday_greetings_v1"})
    assert codes(out) == ["unknown_contact"]
    assert "search_contacts" in out["refusals"][0]["way_out"]
    assert sent(emulator) == []


async def test_24_hour_rule(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with guarded(emulator, tmp_path) as (server, deps), Client(server, elicitation_callback=Human()) as c:
        closed = await call(c, "send_message", {"token": p.aisha, "text": "Hi Aisha"})
        shown = await call(c, "get_contact", {"token": p.aisha})
        # The way out works: a template may go outside the window.
        template = await call(c, "send_template", {"tokens": [p.aisha], "template": "holiday_greetings_v1"})

        # A reply seen only by this server's inbox (webhook) opens the window too.
        def replied(conn: sqlite3.Connection) -> None:
            record_inbound(conn, phone=shown["phone"], at=datetime.now(UTC), text="Thanks!", rules=DEFAULT)

        await deps.store.run(replied)
        reopened = await call(c, "send_message", {"token": p.aisha, "text": "Hi Aisha", "dry_run": True})
    assert closed["status"] == "refused"
    assert codes(closed) == ["window_closed"]
    assert "24-hour" in closed["refusals"][0]["reason"]
    assert "send_template" in closed["refusals"][0]["way_out"]
    assert shown["window"]["open"] is False
    assert template["status"] == "sent"
    assert reopened["status"] == "dry_run"
    assert any("open until" in reason for reason in reopened["allowed_because"])
    assert [r["kind"] for r in sent(emulator)] == ["template"]


async def test_none_mode_sends_without_asking_but_never_repeats(
    emulator: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    p = people(emulator)
    human = Human()
    with caplog.at_level(logging.WARNING):
        async with (
            guarded(emulator, tmp_path, approval_mode="none") as (server, _),
            Client(server, elicitation_callback=human) as c,
        ):
            first = await call(c, "send_message", {"token": p.daniel, "text": "Automated hello"})
            retry = await call(c, "send_message", {"token": p.daniel, "text": "Automated hello"})
            closed = await call(c, "send_message", {"token": p.aisha, "text": "Automated hello"})
    assert "APPROVAL_MODE=none" in caplog.text
    assert first["status"] == "sent"
    assert retry["status"] in ("sent", "refused")
    assert "not sent twice" in retry["message"] or codes(retry) == ["repeat"]
    assert codes(closed) == ["window_closed"]  # policy still applies
    assert human.shown == []
    assert [r["text"] for r in sent(emulator)] == ["Automated hello"]


async def test_none_mode_refuses_a_repeat_from_another_client(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    args = {"token": p.daniel, "text": "Automated reminder"}
    other = types.Implementation(name="second-automation", version="1")
    async with guarded(emulator, tmp_path, approval_mode="none") as (server, _):
        async with Client(server) as c:
            assert (await call(c, "send_message", args))["status"] == "sent"
        async with Client(server, client_info=other) as c:
            repeat = await call(c, "send_message", args)
    assert repeat["status"] == "refused"
    assert codes(repeat) == ["repeat"]
    assert "list_sends" in repeat["refusals"][0]["way_out"]
    assert len(sent(emulator)) == 1
