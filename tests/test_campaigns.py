"""Outreach end to end through a real MCP client against the emulator (``/_sandbox/sent`` is the
truth): a personalised campaign, replies through ``/_sandbox/inbound``, the campaign report, and a
follow-up to exactly the silent ones. Plus the checks that keep unfinished messages from approval."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp import Client

from outperform_mcp.api.models import Conversation, Message
from outperform_mcp.guard.campaigns import _reply_in_thread
from outperform_mcp.guard.service import SendService
from outperform_mcp.mirror.sync import Mirror
from outperform_mcp.server.app import Selection, build_server
from outperform_mcp.settings import MirrorSettings
from outperform_mcp.store import inbox as events
from outperform_mcp.store import optout
from outperform_mcp.store.journal import SendRecord

from .guard_harness import Human, guard_settings, guarded, http_app, open_page, people, sent
from .inbox_harness import Running, eventually, inbound, inbox_server, point_emulator
from .support import call, error_text

pytestmark = pytest.mark.anyio

INTEREST = (
    "Hi {}, thanks for your interest in {}! Would you like to schedule a quick call with our team this week? "
    "Reply STOP to opt out."
)


@pytest.fixture
async def running(emulator: Any, tmp_path: Path) -> AsyncIterator[Running]:
    async with inbox_server(emulator, tmp_path) as r:
        await point_emulator(emulator, r)
        r.deps.guard = SendService(r.deps.api, r.deps.store, guard_settings())
        await r.deps.guard.start()
        yield r


async def stored(r: Running) -> int:
    return await r.deps.store.run(events.latest_id)


async def test_personalised_campaign_replies_report_and_follow_up(emulator: Any, running: Running) -> None:
    p = people(emulator)
    human = Human()
    async with Client(running.server, elicitation_callback=human) as c:
        none_yet = await call(c, "get_campaign")
        assert (none_yet["id"], none_yet["recipients"]) == (None, [])
        assert "No campaigns yet" in none_yet["note"]
        catalogue = await call(c, "list_templates")
        [interest] = [t for t in catalogue["templates"] if t["name"] == "follow_up_interest_v1"]
        assert interest["parameters"][0] == {"position": 1, "meaning": "Customer's first name", "example": "Mei Xin"}

        out = await call(
            c,
            "send_template",
            {
                "tokens": [p.daniel, p.aisha, p.kevin],
                "template": "follow_up_interest_v1",
                "params": ["{first_name}", "the Cheras show unit"],
                "per_recipient": {p.kevin: ["Kev", "the Mont Kiara condo"]},
                "campaign": "Cheras launch",
            },
        )
        assert out["status"] == "sent", out
        assert out["campaign_id"]
        expected = {
            p.daniel: INTEREST.format("Daniel", "the Cheras show unit"),
            p.aisha: INTEREST.format("Aisha", "the Cheras show unit"),
            p.kevin: INTEREST.format("Kev", "the Mont Kiara condo"),
        }
        # Each recipient got their own text, and the human saw every one of them in one approval.
        assert {r["prospect_token"]: r["text"] for r in sent(emulator)} == expected
        assert len(human.shown) == 1
        assert all(text in human.shown[0] for text in expected.values())

        # Daniel answers and Kevin opts out before anyone waits; Aisha stays silent.
        await inbound(emulator, prospect_token=p.daniel, text="Yes, Friday afternoon works")
        await inbound(emulator, prospect_token=p.kevin, text="STOP")
        await eventually(lambda: running.deps.inbox.stats.stored >= 2)
        waited = await call(c, "wait_for_reply", {"token": p.daniel, "seconds": 1})
        assert waited["replied"] is True, waited  # it arrived before the call, after the send
        assert [m["text"] for m in waited["messages"]] == ["Yes, Friday afternoon works"]
        assert waited["messages"][0]["id"] > out["reply_cursor"]

        newest = await call(c, "get_campaign")
        assert [(x["name"], x["recipients"], x["sent"]) for x in newest["campaigns"]] == [("Cheras launch", 3, 3)]
        report = await call(c, "get_campaign", {"campaign": "cheras launch"})
        assert report["id"] == newest["id"] == out["campaign_id"]
        assert (report["reached"], report["replied"], report["opted_out"]) == (3, 2, 1)
        assert report["reply_rate"] == pytest.approx(0.667)
        assert report["median_first_reply_minutes"] is not None
        by_token = {r["token"]: r for r in report["recipients"]}
        assert by_token[p.kevin]["opted_out_at"] is not None
        assert by_token[p.aisha]["replied_at"] is None
        assert report["no_reply_tokens"] == [p.aisha]
        later = await call(c, "get_campaign", {"campaign": out["campaign_id"], "no_reply_days": 3})
        assert later["no_reply_tokens"] == []  # nobody was messaged three days ago

        before = len(sent(emulator))
        follow = await call(
            c,
            "send_template",
            {"tokens": report["no_reply_tokens"], "template": "reengagement_hello_v1", "params": ["{first_name}"]},
        )
        assert follow["status"] == "sent", follow
        assert follow["campaign_id"] != out["campaign_id"]
    new = sent(emulator)[before:]
    assert [(r["prospect_token"], r["text"]) for r in new] == [
        (p.aisha, "Hi Aisha, it's been a while! Is there anything we can help you with? Reply STOP to opt out.")
    ]


@pytest.mark.parametrize(
    ("params", "per_recipient", "why"),
    [
        (["", ""], None, "parameter 1 is empty"),
        (["{first_name}", ""], None, "parameter 2 is empty"),
        (["[name]", "the condo"], None, "still holds the placeholder '[name]'"),
        (["{{1}}", "the condo"], None, "still holds the placeholder"),
        (["{firstname}", "the condo"], None, "unknown placeholder {firstname}"),
        (["Daniel"], None, "takes 2 parameter(s), got 1"),
        (["{first_name}", "x"], {"not-a-recipient-token": ["a", "b"]}, "not in tokens"),
    ],
)
async def test_unfinished_parameters_are_refused_before_approval(
    emulator: Any, tmp_path: Path, params: list[str], per_recipient: dict[str, list[str]] | None, why: str
) -> None:
    p = people(emulator)
    human = Human()
    args: dict[str, Any] = {"tokens": [p.daniel, p.aisha], "template": "follow_up_interest_v1", "params": params}
    if per_recipient:
        args["per_recipient"] = per_recipient
    async with guarded(emulator, tmp_path) as (server, _), Client(server, elicitation_callback=human) as c:
        text = await error_text(c, "send_template", args)
    assert why in text
    assert human.shown == []
    assert sent(emulator) == []


async def test_large_batch_dialog_shows_the_first_messages_and_links_to_the_page(emulator: Any, tmp_path: Path) -> None:
    """Seven recipients: the dialog shows five and links to the page, and the page lists all seven."""
    shown: list[str] = []
    pages: list[str] = []

    async def human(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        text = getattr(params, "message", "")
        shown.append(text)
        link = re.search(r"http://\S+/approvals/\S+", text)
        assert link is not None, text
        page, _ = await open_page(link.group(0))
        pages.append(page.text)
        return types.ElicitResult(action="decline")

    async with (
        guarded(emulator, tmp_path) as (server, deps),
        http_app(server, deps),
        Client(server, elicitation_callback=human) as c,
    ):
        found = await call(c, "search_contacts", {"limit": 30})
        tokens = [x["token"] for x in found["items"] if "opt-out" not in x["labels"] and x["name"]][:7]
        assert len(tokens) == 7
        out = await call(
            c, "send_template", {"tokens": tokens, "template": "reengagement_hello_v1", "params": ["{first_name}"]}
        )
    assert out["status"] == "declined"
    [dialog] = shown
    assert "... and 2 more message(s)" in dialog
    assert dialog.count("it's been a while!") == 5
    [page] = pages
    assert page.count("been a while!") == 7
    for item in found["items"]:
        if item["token"] in tokens:
            assert html.escape(f"Hi {item['name'].split()[0]},", quote=True) in page
    assert sent(emulator) == []


async def test_hints_never_point_at_hidden_tools(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    async with guarded(emulator, tmp_path) as (_, deps):
        full = build_server(deps)
        narrow = build_server(deps, Selection(exclude=("list_sends",)))
        async with Client(full, elicitation_callback=Human()) as c:
            shown = await call(c, "send_message", {"token": p.daniel, "text": "See you at 3"})
        async with Client(narrow, elicitation_callback=Human()) as c:
            hidden = await call(c, "send_message", {"token": p.daniel, "text": "See you at 4"})
    assert "list_sends" in shown["message"]
    assert hidden["status"] == "sent"
    assert "list_sends" not in hidden["message"]
    assert "do not send it again" in hidden["message"]


async def test_template_catalogue_marks_the_allow_list_and_says_how_to_add_a_file(
    emulator: Any, tmp_path: Path
) -> None:
    async with (
        guarded(emulator, tmp_path, template_allowlist=["reengagement_hello_v1"]) as (server, _),
        Client(server) as c,
    ):
        listed = await call(c, "list_templates")
        resource = await c.read_resource("outperform://templates")
    allowed = {t["name"]: t["allowed"] for t in listed["templates"]}
    assert allowed["reengagement_hello_v1"] is True
    assert allowed["follow_up_interest_v1"] is False
    assert listed["allow_list"] == ["reengagement_hello_v1"]
    assert "promo_raya_ms_v1" in str(resource.contents[0])
    async with guarded(emulator, tmp_path / "bare", templates_file=None) as (server, _), Client(server) as c:
        bare = await call(c, "list_templates")
        p = people(emulator)
        out = await call(
            c,
            "send_template",
            {"tokens": [p.daniel], "template": "order_shipped_v2", "params": ["{first_name}", "A-1"], "dry_run": True},
        )
    assert bare["templates"] == []
    assert "OUTPERFORM_TEMPLATES_FILE" in bare["note"]
    # Without bodies the preview still shows the name and this recipient's filled-in parameters.
    assert out["status"] == "dry_run"
    assert (out["messages"][0]["text"], out["messages"][0]["params"]) == ("", ["Daniel", "A-1"])


async def test_replies_read_from_the_conversation_when_no_webhook_came_and_days_of_silence(
    emulator: Any, tmp_path: Path
) -> None:
    """No receiver here: replies are found in the API's thread; no_reply_days follows the clock."""
    p = people(emulator)
    async with guarded(emulator, tmp_path) as (server, deps), Client(server, elicitation_callback=Human()) as c:
        out = await call(
            c,
            "send_template",
            {"tokens": [p.daniel, p.aisha], "template": "reengagement_hello_v1", "params": ["{first_name}"]},
        )
        assert out["status"] == "sent"
        await inbound(emulator, prospect_token=p.aisha, text="Hi! Still looking, yes", deliver=False)
        report = await call(c, "get_campaign", {"no_reply_days": 3})
        assert (report["reached"], report["replied"], report["reply_rate"]) == (2, 1, 0.5)
        assert report["no_reply_tokens"] == []  # Daniel was messaged just now, not three days ago
        later = datetime.now(UTC) + timedelta(days=4)
        deps.guard.clock = lambda: later
        report = await call(c, "get_campaign", {"campaign": out["campaign_id"], "no_reply_days": 3})
    assert report["no_reply_tokens"] == [p.daniel]
    by_token = {r["token"]: r for r in report["recipients"]}
    assert by_token[p.aisha]["replied_at"] is not None
    assert by_token[p.daniel]["replied_at"] is None


async def test_campaign_segment_and_report_agree_with_get_campaign(emulator: Any, running: Running) -> None:
    p = people(emulator)
    running.deps.mirror = Mirror(
        running.deps.api, running.deps.store, MirrorSettings(sync_rate=0, sync_interval=0), opt_out=optout.DEFAULT
    )
    insights = build_server(running.deps, Selection(toolsets=("messaging", "insights")))
    async with Client(insights, elicitation_callback=Human()) as c:
        out = await call(
            c,
            "send_template",
            {
                "tokens": [p.daniel, p.aisha, p.kevin],
                "template": "follow_up_interest_v1",
                "params": ["{first_name}", "the Cheras show unit"],
                "campaign": "Cheras launch",
            },
        )
        assert out["status"] == "sent", out
        await inbound(emulator, prospect_token=p.daniel, text="Yes, Friday afternoon works")
        await inbound(emulator, prospect_token=p.kevin, text="STOP")
        await eventually(lambda: running.deps.inbox.stats.stored >= 2)
        truth = await call(c, "get_campaign", {"campaign": "Cheras launch"})

        async def members(**args: Any) -> list[str]:
            page = await call(c, "segment", {"kind": "campaign", "campaign": "cheras launch", "limit": 2, **args})
            tokens = [r[0] for r in page["rows"]]
            while page["next_cursor"]:
                page = await call(
                    c,
                    "segment",
                    {
                        "kind": "campaign",
                        "campaign": out["campaign_id"],
                        "cursor": page["next_cursor"],
                        "limit": 2,
                        **args,
                    },
                )
                tokens += [r[0] for r in page["rows"]]
            return tokens

        everyone = await members(refresh=True)
        replied = await members(replied=True)
        silent = await members(replied=False)
        table = await call(c, "report", {"group_by": "campaign"})
        missing = await error_text(c, "segment", {"kind": "campaign", "campaign": "no such"})
        stray = await error_text(c, "segment", {"kind": "awaiting_reply", "replied": False})
    by_token = {r["token"]: r for r in truth["recipients"]}
    assert everyone == sorted(by_token)
    assert replied == sorted(t for t, r in by_token.items() if r["replied_at"])
    assert silent == truth["no_reply_tokens"] == [p.aisha]
    assert table["columns"] == [
        "campaign",
        "recipients",
        "sent",
        "replied",
        "reply_rate",
        "median_first_reply_min",
        "opted_out",
    ]
    [row] = table["rows"]
    assert row[:4] == ["Cheras launch", 3, truth["reached"], truth["replied"]]
    assert row[4] == pytest.approx(100 * truth["reply_rate"], abs=0.1)
    assert row[5] == pytest.approx(truth["median_first_reply_minutes"], abs=1)  # the mirror keeps whole seconds
    assert row[6] == truth["opted_out"] == 1
    assert "no campaign 'no such'" in missing
    assert "belong to kind=campaign" in stray


T0 = datetime(2026, 11, 29, 21, 40, 17, tzinfo=UTC)


def _send(text: str, at: datetime = T0) -> SendRecord:
    return SendRecord(1, "apr", 0, "tok", "Hui", "+60123", "template", text, "t", [], None, "k", None, "sent",
                      None, None, at, at, at)  # fmt: skip


def _thread(*messages: tuple[float, str, str]) -> Conversation:
    """(seconds from T0 on the API's clock, direction, text)."""
    return Conversation(
        token="tok",
        messages=[Message(timestamp=T0 + timedelta(seconds=s), direction=d, text=t) for s, d, t in messages],
    )


@pytest.mark.parametrize(
    ("thread", "send", "replied_after_s", "opted_after_s"),
    [
        # the API's clock 17 s behind ours, our template text unknown (''): found by time, reply 30 s later
        (_thread((-3600, "inbound", "hi"), (-17, "outbound", "Hi Hui"), (13, "inbound", "yes")), _send(""), 30, None),
        # ...and an opt-out after it, on our clock too
        (_thread((-17, "outbound", "Hi Hui"), (-17, "inbound", "STOP")), _send(""), 0, 0),
        # found by its text even far from the send time; an earlier inbound does not count
        (
            _thread((-900, "inbound", "hello"), (-600, "outbound", "Hi Hui"), (-540, "inbound", "ok")),
            _send("Hi Hui"),
            60,
            None,
        ),
        # no outbound within minutes of the send: no reply can be told
        (_thread((-3600, "outbound", "old"), (-3500, "inbound", "yes")), _send(""), None, None),
        # our message with nothing after it
        (_thread((5, "outbound", "Hi Hui")), _send(""), None, None),
    ],
)
def test_reply_in_thread_across_clocks(
    thread: Conversation, send: SendRecord, replied_after_s: float | None, opted_after_s: float | None
) -> None:
    replied, opted = _reply_in_thread(thread, [send], optout.DEFAULT)
    assert replied == (None if replied_after_s is None else T0 + timedelta(seconds=replied_after_s))
    assert opted == (None if opted_after_s is None else T0 + timedelta(seconds=opted_after_s))


async def test_a_configured_opt_out_phrase_counts_in_the_campaign_report(emulator: Any, tmp_path: Path) -> None:
    """OUTPERFORM_OPT_OUT_PHRASES reaches the report too: a reply read from the API's thread (no
    webhook here) that is only a configured phrase is an opt-out, as it is for the send policy."""
    p = people(emulator)
    async with (
        guarded(emulator, tmp_path, opt_out_phrases=("no more promos",)) as (server, _),
        Client(server, elicitation_callback=Human()) as c,
    ):
        out = await call(
            c, "send_template", {"tokens": [p.aisha], "template": "reengagement_hello_v1", "params": ["{first_name}"]}
        )
        assert out["status"] == "sent"
        await inbound(emulator, prospect_token=p.aisha, text="No more promos, thanks", deliver=False)
        report = await call(c, "get_campaign", {})
    assert (report["replied"], report["opted_out"]) == (1, 1)
    assert report["recipients"][0]["opted_out_at"] is not None


async def test_the_mirror_marks_a_configured_opt_out_phrase_read_from_the_api_thread(
    emulator: Any, tmp_path: Path
) -> None:
    """A reply the mirror learns from the API's thread (no webhook) that is only a configured
    phrase (OUTPERFORM_OPT_OUT_PHRASES) is an opt-out there too, not only the built-in STOP words."""
    p = people(emulator)
    async with guarded(emulator, tmp_path) as (_, deps):
        await inbound(emulator, prospect_token=p.aisha, text="No more promos, thanks", deliver=False)
        rules = optout.OptOutRules(["no more promos"])
        await Mirror(deps.api, deps.store, MirrorSettings(sync_rate=0, sync_interval=0), opt_out=rules).sync()
        rows = await deps.store.run(
            lambda conn: conn.execute(
                "SELECT opt_out FROM mirror_messages WHERE token = ? AND text = ?", (p.aisha, "No more promos, thanks")
            ).fetchall()
        )
    assert [r[0] for r in rows] == [1]
