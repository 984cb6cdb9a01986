"""The send policy as pure functions: each rule's refusal (and each pass's reason), table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from outperform_mcp.guard.model import Draft, Recipient, Window
from outperform_mcp.guard.policy import Usage, check, switch_and_quota
from outperform_mcp.settings import GuardSettings

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
OPEN = Window(NOW - timedelta(hours=1))
CLOSED = Window(NOW - timedelta(hours=25))
NEVER = Window(None)


def settings(**overrides: Any) -> GuardSettings:
    return GuardSettings.model_validate(overrides)


def person(token: str = "a" * 32, *, window: Window = OPEN, opt_out: str | None = None, name: str = "Dan") -> Recipient:
    return Recipient(token=token, name=name, phone="60120000000", labels=(), window=window, opt_out=opt_out)


SESSION = Draft(kind="session", tokens=("a" * 32,), text="Hi")
TEMPLATE = Draft(kind="template", tokens=("a" * 32,), template="holiday_greetings_v1")


@pytest.mark.parametrize(
    ("overrides", "usage", "count", "codes", "reason"),
    [
        ({}, Usage(0, 0), 1, [], "1 of 100 messages this hour"),
        ({"sending_enabled": False}, Usage(0, 0), 1, ["sending_disabled"], None),
        ({"max_sends_per_hour": 2}, Usage(1, 1), 1, [], "2 of 2 messages this hour"),
        ({"max_sends_per_hour": 2}, Usage(2, 2), 1, ["quota"], None),
        ({"max_sends_per_hour": 2}, Usage(0, 0), 3, ["quota"], None),
        ({"max_sends_per_day": 3}, Usage(0, 3), 1, ["quota"], None),
        ({"max_sends_per_hour": 1, "max_sends_per_day": 1}, Usage(1, 1), 1, ["quota", "quota"], None),
        ({"max_sends_per_hour": 0, "max_sends_per_day": 0}, Usage(10_000, 10_000), 5, [], None),  # 0 = no limit
    ],
)
def test_switch_and_quota(
    overrides: dict[str, Any], usage: Usage, count: int, codes: list[str], reason: str | None
) -> None:
    reasons, refusals = switch_and_quota(settings(**overrides), usage, count)
    assert [r.code for r in refusals] == codes
    for refusal in refusals:
        assert refusal.reason
        assert refusal.way_out
    if reason is not None:
        assert reason in reasons
    if overrides.get("max_sends_per_hour") == 0:
        assert reasons == []  # no limit, nothing to report


def test_quota_refusal_names_the_numbers() -> None:
    _, [refusal] = switch_and_quota(settings(max_sends_per_hour=5, max_sends_per_day=0), Usage(4, 4), 2)
    assert "5 messages per hour" in refusal.reason
    assert "4 already sent, 2 more asked" in refusal.reason
    assert "fewer recipients" in refusal.way_out


def test_kill_switch_refuses_before_anything_else() -> None:
    _, refusals = check(
        settings(sending_enabled=False), SESSION, [person(window=CLOSED, opt_out="label opt-out")], Usage(0, 0), NOW
    )
    assert refusals[0].code == "sending_disabled"
    assert "OUTPERFORM_SENDING_ENABLED" in refusals[0].reason


@pytest.mark.parametrize(
    ("draft", "recipients", "overrides", "codes"),
    [
        (SESSION, [person()], {}, []),
        (SESSION, [person(window=CLOSED)], {}, ["window_closed"]),
        (SESSION, [person(window=NEVER)], {}, ["window_closed"]),
        (SESSION, [person(window=Window(NOW - timedelta(hours=24)))], {}, ["window_closed"]),  # closes at 24 h sharp
        (TEMPLATE, [person(window=CLOSED)], {}, []),  # templates may go outside the window
        (SESSION, [person(opt_out="label opt-out")], {}, ["opted_out"]),
        (TEMPLATE, [person(opt_out="replied STOP")], {}, ["opted_out"]),
        (SESSION, [person(opt_out="replied STOP", window=CLOSED)], {}, ["opted_out", "window_closed"]),
        (TEMPLATE, [person()], {"template_allowlist": "holiday_greetings_v1,other"}, []),
        (TEMPLATE, [person()], {"template_allowlist": "other"}, ["template_not_allowed"]),
        (SESSION, [person()], {"template_allowlist": "other"}, []),  # the allow-list is about templates only
        (TEMPLATE, [person("a" * 32), person("b" * 32)], {"max_sends_per_hour": 1}, ["quota"]),
    ],
)
def test_check(draft: Draft, recipients: list[Recipient], overrides: dict[str, Any], codes: list[str]) -> None:
    reasons, refusals = check(settings(**overrides), draft, recipients, Usage(0, 0), NOW)
    assert [r.code for r in refusals] == codes
    assert all(r.reason and r.way_out for r in refusals)
    per_recipient = {"opted_out", "window_closed"}
    assert all(r.token == recipients[0].token for r in refusals if r.code in per_recipient)
    assert ("no recipient has opted out" in reasons) is ("opted_out" not in codes)
    if draft.kind == "template":
        assert "a template may be sent outside the 24-hour window" in reasons


def test_window_reasons_say_when_it_closes_or_why_it_is_closed() -> None:
    reasons, _ = check(settings(), SESSION, [person()], Usage(0, 0), NOW)
    assert "24-hour window with Dan open until 2026-03-03 11:00 UTC" in reasons
    _, [closed] = check(settings(), SESSION, [person(window=CLOSED)], Usage(0, 0), NOW)
    assert "their last message was at 2026-03-01 11:00 UTC" in closed.reason
    assert "send_template" in closed.way_out
    _, [never] = check(settings(), SESSION, [person(window=NEVER, name="")], Usage(0, 0), NOW)
    assert "they have never written" in never.reason
    assert "a" * 32 in never.reason  # no name: the token identifies the contact


def test_allow_list_refusal_lists_what_may_be_sent() -> None:
    _, [refusal] = check(settings(template_allowlist="a_v1, b_v2"), TEMPLATE, [person()], Usage(0, 0), NOW)
    assert "holiday_greetings_v1" in refusal.reason
    assert refusal.way_out == "use one of: a_v1, b_v2"


@pytest.mark.parametrize(
    ("last", "now", "is_open"),
    [
        (None, NOW, False),
        (NOW, NOW, True),
        (NOW - timedelta(hours=23, minutes=59), NOW, True),
        (NOW - timedelta(hours=24), NOW, False),
        (NOW + timedelta(minutes=1), NOW, True),  # a clock slightly behind the API's
    ],
)
def test_window(last: datetime | None, now: datetime, is_open: bool) -> None:
    window = Window(last)
    assert window.is_open(now) is is_open
    assert window.closes_at == (last + timedelta(hours=24) if last else None)
