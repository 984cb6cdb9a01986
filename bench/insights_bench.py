"""Insights benchmark: operator questions before (today's page-shaped tools) and after (the mirror).

``python bench/insights_bench.py`` (``--contacts/--messages`` size the large account; ``--quick``
uses 2,000 contacts and 40,000 messages). Prints three tables:

1. Questions on the standard seed: tool calls and result tokens (text content / 4) with the tools
   of the default toolsets, run for real through an MCP client, and with the insights tools; each
   answer of the insights tools is compared with the ground truth computed in this run from the
   emulator's raw API (paged with plain HTTP).
2. A large account: first sync time and API calls with 100 ms of API latency, the calls of a
   refresh with nothing new, report and search p50 through an MCP client.
3. ``tools/list`` tokens per toolset.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import OUR_STDIO_ARGS, api_settings, est_tokens, scratch_dir, server_env  # noqa: E402
from emulator import EmulatorProcess, running_emulator  # noqa: E402

from outperform_mcp.store.optout import DEFAULT as OPT_OUT  # noqa: E402

TARGET_CALLS, TARGET_TOKENS = 2, 1500


class Meter:
    """Counts the calls and result tokens of one strategy."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls = 0
        self.tokens = 0

    async def __call__(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await self.client.call_tool(name, args)
        if result.is_error:
            raise RuntimeError(f"{name} failed: {result.content}")
        self.calls += 1
        self.tokens += est_tokens(len("".join(getattr(b, "text", "") for b in result.content)))
        return dict(result.structured_content or {})


@asynccontextmanager
async def mcp(
    emu: EmulatorProcess, data_dir: Path, toolsets: tuple[str, ...] = ("all",), *, unattended: bool = False
) -> AsyncIterator[Any]:
    from mcp import Client

    from outperform_mcp.server.app import Selection, build_server
    from outperform_mcp.server.runtime import open_deps

    async with (
        open_deps(settings(emu, data_dir, unattended=unattended)) as deps,
        Client(build_server(deps, Selection(toolsets=toolsets))) as client,
    ):
        yield client, deps


def settings(emu: EmulatorProcess, data_dir: Path, *, unattended: bool = False) -> Any:
    """Default settings (the sync paced at its default rate), pointed at the emulator; ``unattended``:
    sends need no human (the bench's own campaigns)."""
    from outperform_mcp.settings import GuardSettings, Settings

    guard = GuardSettings(approval_mode="none") if unattended else GuardSettings()
    return Settings(api=api_settings(emu, data_dir), guard=guard)


# -- ground truth from the raw API -------------------------------------------------------------


def raw(emu: EmulatorProcess, token: str, path: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        r = emu.http.get(
            emu.base_url + path,
            params={"limit": "100", "page": str(page)},
            headers={"Authorization": f"Bearer {token}"},
        )
        r.raise_for_status()
        data = r.json()["data"]
        out += data
        if len(data) < 100:
            return out
        page += 1


def at(m: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(m["timestamp"]).replace(tzinfo=UTC)


def day_start(d: date) -> datetime:
    return datetime.combine(d, datetime.min.time(), UTC)


class Truth:
    def __init__(self, emu: EmulatorProcess) -> None:
        token = emu.access_token()
        self.contacts = {c["prospect_token"]: c for c in raw(emu, token, "contacts")}
        self.threads = {
            t["prospect_token"]: sorted(t["message"], key=lambda m: m["timestamp"])
            for t in raw(emu, token, "conversations")
        }
        self.sessions = raw(emu, token, "chatbot_conversations")
        self.now = datetime.now(UTC)

    def labels(self, token: str) -> list[str]:
        return list(self.contacts[token]["labels"])

    def awaiting(self) -> list[str]:
        rows = []
        for token, msgs in self.threads.items():
            if msgs and msgs[-1]["direction"] == "inbound":
                start = msgs[-1]
                for m in reversed(msgs):
                    if m["direction"] != "inbound":
                        break
                    start = m
                rows.append((start["timestamp"], token))
        return [t for _, t in sorted(rows)]

    def turns(self, lo: datetime, hi: datetime) -> list[tuple[str, str, datetime, datetime | None]]:
        """(token, side, start, answered_at) of every turn started in [lo, hi)."""
        out = []
        for token, msgs in self.threads.items():
            previous = None
            for i, m in enumerate(msgs):
                if m["direction"] != previous and lo <= at(m) < hi:
                    answer = next((at(n) for n in msgs[i + 1 :] if n["direction"] != m["direction"]), None)
                    out.append((token, m["direction"], at(m), answer))
                previous = m["direction"]
        return out

    def reply_rate_by_label(self, lo: datetime, hi: datetime) -> dict[str, float | None]:
        ours: Counter[str] = Counter()
        answered: Counter[str] = Counter()
        for token, side, _, answer in self.turns(lo, hi):
            if side == "outbound":
                for label in self.labels(token):
                    ours[label] += 1
                    answered[label] += answer is not None
        return {label: round(100 * answered[label] / n, 1) for label, n in ours.items()}

    def our_median_min(self, lo: datetime, hi: datetime) -> float | None:
        waits = sorted((a - s).total_seconds() for _, side, s, a in self.turns(lo, hi) if side == "inbound" and a)
        if not waits:
            return None
        return round(waits[max(1, (len(waits) + 1) // 2) - 1] / 60, 1)

    def silent(self, days: int, label: str) -> set[str]:
        cut = self.now - timedelta(days=days)
        return {
            t
            for t, msgs in self.threads.items()
            if msgs and msgs[-1]["direction"] == "outbound" and at(msgs[-1]) < cut and label in self.labels(t)
        }

    def mentions(self, pattern: str, *, chatbot_sentiment: str | None = None, messages: bool = True) -> int:
        word = re.compile(pattern, re.IGNORECASE)
        n = 0
        if messages:
            n += sum(bool(word.search(m["text"])) for msgs in self.threads.values() for m in msgs)
        n += sum(
            bool(word.search(m["text"]))
            for s in self.sessions
            if chatbot_sentiment is None or s["sentiment"] == chatbot_sentiment
            for m in s["message"]
        )
        return n

    def inbound_per_day(self, first: date, last: date) -> dict[str, int]:
        days: Counter[str] = Counter()
        for msgs in self.threads.values():
            for m in msgs:
                if m["direction"] == "inbound" and first <= at(m).date() <= last:
                    days[at(m).date().isoformat()] += 1
        return dict(days)

    def opted_out(self) -> set[str]:
        by_label = {t for t, c in self.contacts.items() if "opt-out" in c["labels"]}
        by_text = {
            t
            for t, msgs in self.threads.items()
            if any(m["direction"] == "inbound" and OPT_OUT.matches(m["text"]) for m in msgs)
        }
        return by_label | by_text

    def window_open(self) -> set[str]:
        cut = self.now - timedelta(hours=24)
        return {t for t, msgs in self.threads.items() if any(m["direction"] == "inbound" and at(m) > cut for m in msgs)}

    def replied_since(self, since: date) -> set[str]:
        lo = day_start(since)
        return {t for t, msgs in self.threads.items() if any(m["direction"] == "inbound" and at(m) >= lo for m in msgs)}

    def sentiment_by_label(self, lo: datetime, hi: datetime) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for s in self.sessions:
            started = datetime.fromisoformat(s["started_at"]).replace(tzinfo=UTC)
            if not lo <= started < hi:
                continue
            for label in self.labels(s["prospect_token"]):
                row = out.setdefault(label, [0, 0, 0])
                row[("positive", "neutral", "negative").index(s["sentiment"])] += 1
        return out


# -- before: today's tools, paged ---------------------------------------------------------------


async def page_all(meter: Meter, tool: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        out = await meter(tool, {**args, "page": page, "limit": 50})
        items += out.get("items", [])
        if not out.get("next_page"):
            return items
        page = out["next_page"]


async def before_threads(client: Any, start: date | None = None) -> Meter:
    """Every thread read whole: list_conversations pages, then get_conversation per thread."""
    meter = Meter(client)
    args = {"start_date": start.isoformat()} if start else {}
    for item in await page_all(meter, "list_conversations", args):
        await meter("get_conversation", {"token": item["token"], "limit": 200, **args})
    return meter


async def before_pages(client: Any, tool: str, args: dict[str, Any] | None = None) -> Meter:
    meter = Meter(client)
    await page_all(meter, tool, args or {})
    return meter


def plus(*meters: Meter) -> tuple[int, int]:
    return sum(m.calls for m in meters), sum(m.tokens for m in meters)


# -- the questions ------------------------------------------------------------------------------


async def segment_all(meter: Meter, args: dict[str, Any]) -> list[str]:
    tokens: list[str] = []
    cursor = None
    while True:
        out = await meter("segment", {**args, "limit": 200, **({"cursor": cursor} if cursor else {})})
        tokens += [r[0] for r in out["rows"]]
        cursor = out["next_cursor"]
        if cursor is None:
            return tokens


CAMPAIGNS = (
    ("Cheras launch", "follow_up_interest_v1", ["{first_name}", "the Cheras show unit"], 4, 1),
    ("Winback", "reengagement_hello_v1", ["{first_name}"], 2, 0),
)  # (name, template, params, recipients who answer, of whom opt out)
CAMPAIGN_SIZE = 8


async def send_campaigns(emu: EmulatorProcess, client: Any) -> dict[str, list[str]]:
    """Two campaigns of our own, and replies from some recipients (one of them STOP) in the API's
    threads, for the campaign question."""
    token = emu.access_token()
    people = sorted(c["prospect_token"] for c in raw(emu, token, "contacts") if "opt-out" not in c["labels"])
    recipients = {}
    for i, (name, template, params, answering, stopping) in enumerate(CAMPAIGNS):
        tokens = recipients[name] = people[i * CAMPAIGN_SIZE : (i + 1) * CAMPAIGN_SIZE]
        out = await client.call_tool(
            "send_template", {"tokens": tokens, "template": template, "params": params, "campaign": name}
        )
        assert not out.is_error, out.content
        for n, who in enumerate(tokens[:answering]):
            text = "STOP" if n < stopping else "Yes please, tell me more"
            emu.control("POST", "inbound", {"prospect_token": who, "text": text})
    return recipients


def campaign_truth(emu: EmulatorProcess, truth: Truth, recipients: dict[str, list[str]]) -> list[list[Any]]:
    """Per campaign from the emulator: recipients, sent, replied (an inbound after our message in
    the raw thread), reply rate %, opt-outs."""
    went = emu.control("GET", "sent")["data"]
    out = []
    for name, tokens in recipients.items():
        ours = [s for s in went if s["prospect_token"] in tokens]
        replied = opted = 0
        for s in ours:
            msgs = truth.threads[s["prospect_token"]]
            mine = max(j for j, m in enumerate(msgs) if m["direction"] == "outbound" and m["text"] == s["text"])
            after = [m for m in msgs[mine + 1 :] if m["direction"] == "inbound"]
            replied += bool(after)
            opted += any(OPT_OUT.matches(m["text"]) for m in after)
        out.append([name, len(tokens), len(ours), replied, round(100 * replied / len(ours), 1), opted])
    return out


async def questions(emu: EmulatorProcess, data_dir: Path) -> list[tuple[str, str, str, bool]]:
    rows: list[tuple[str, str, str, bool]] = []
    async with mcp(emu, data_dir, unattended=True) as (client, deps):
        recipients = await send_campaigns(emu, client)
        truth = Truth(emu)
        today = truth.now.date()
        month = today.replace(day=1)
        await deps.mirror.sync()
        all_threads = await before_threads(client)
        month_threads = await before_threads(client, month)
        week_threads = await before_threads(client, today - timedelta(days=6))
        fortnight = await before_threads(client, today - timedelta(days=13))
        contacts = await before_pages(client, "search_contacts")
        leads = await before_pages(client, "search_contacts", {"label": "lead"})
        chatbot = await before_pages(client, "list_chatbot_conversations")
        awaiting_pages = await before_pages(client, "list_conversations", {"awaiting_reply": True})

        async def ask(
            question: str, before: tuple[int, int] | None, run: Callable[[Meter], Any], expected: Any
        ) -> None:
            meter = Meter(client)
            got = await run(meter)
            ok = got == expected and meter.calls <= TARGET_CALLS and meter.tokens <= TARGET_TOKENS
            was = f"{before[0]} calls / {before[1]:,} tok" if before else "impossible"
            rows.append((question, was, f"{meter.calls} / {meter.tokens:,} tok", ok))
            if got != expected:
                print(f"MISMATCH {question}: got {got!r} expected {expected!r}", file=sys.stderr)

        campaign_reports = Meter(client)
        for name, *_ in CAMPAIGNS:
            await campaign_reports("get_campaign", {"campaign": name})

        async def campaigns(m: Meter) -> list[list[Any]]:
            out = await m("report", {"group_by": "campaign"})
            return [[*r[:5], r[6]] for r in out["rows"]]  # the median reply time is seconds of this run

        await ask("campaign outcomes", plus(campaign_reports), campaigns, campaign_truth(emu, truth, recipients))

        async def awaiting(m: Meter) -> list[str]:
            return await segment_all(m, {"kind": "awaiting_reply"})

        await ask("who is waiting for our reply (oldest first)", plus(awaiting_pages), awaiting, truth.awaiting())

        lo_month = day_start(month)
        hi = day_start(today + timedelta(days=1))

        async def reply_rate(m: Meter) -> dict[str, Any]:
            out = await m("report", {"group_by": "label", "start_date": month.isoformat(), "metrics": ["reply_rate"]})
            return {r[0]: r[1] for r in out["rows"] if r[1] is not None}

        await ask(
            "reply rate by label this month",
            plus(month_threads, contacts),
            reply_rate,
            truth.reply_rate_by_label(lo_month, hi),
        )

        week = today - timedelta(days=6)

        async def our_time(m: Meter) -> Any:
            out = await m("report", {"start_date": week.isoformat(), "metrics": ["our_reply_min"]})
            return out["rows"][0][1] if out["rows"] else None

        await ask(
            "median time we take to answer, last 7 days",
            plus(week_threads),
            our_time,
            truth.our_median_min(day_start(week), hi),
        )

        async def silent(m: Meter) -> set[str]:
            return set(await segment_all(m, {"kind": "silent", "days": 7, "label": "lead"}))

        await ask("leads silent for more than 7 days", plus(all_threads, leads), silent, truth.silent(7, "lead"))

        async def price(m: Meter) -> int:
            return int((await m("search_messages", {"query": "price", "limit": 10}))["total"])

        await ask('who mentioned "price"', plus(all_threads), price, truth.mentions(r"\bprice\b"))

        async def objections(m: Meter) -> int:
            out = await m(
                "search_messages", {"query": "person OR useless", "source": "chatbot", "sentiment": "negative"}
            )
            return int(out["total"])

        await ask(
            "negative chatbot sessions: who asked for a person or called the bot useless",
            None,
            objections,
            truth.mentions(r"\bperson\b|\buseless\b", chatbot_sentiment="negative", messages=False),
        )

        first = today - timedelta(days=13)

        async def per_day(m: Meter) -> dict[str, int]:
            out = await m("report", {"group_by": "day", "start_date": first.isoformat(), "metrics": ["inbound"]})
            return {r[0]: r[1] for r in out["rows"] if r[1]}

        await ask("inbound volume per day, 14 days", plus(fortnight), per_day, truth.inbound_per_day(first, today))

        async def opted(m: Meter) -> set[str]:
            return set(await segment_all(m, {"kind": "opted_out"}))

        await ask("who opted out", plus(all_threads, contacts), opted, truth.opted_out())

        async def window(m: Meter) -> set[str]:
            return set(await segment_all(m, {"kind": "window_open"}))

        await ask("whose 24-hour window is open now", plus(all_threads), window, truth.window_open())

        since = today - timedelta(days=7)

        async def replied(m: Meter) -> set[str]:
            return set(await segment_all(m, {"kind": "replied_since", "since": since.isoformat()}))

        await ask("who replied in the last 7 days", plus(week_threads), replied, truth.replied_since(since))

        quarter = today - timedelta(days=89)

        async def sentiment(m: Meter) -> dict[str, list[int]]:
            out = await m("report", {"group_by": "label", "start_date": quarter.isoformat(), "metrics": ["sentiment"]})
            return {r[0]: r[1:] for r in out["rows"] if any(r[1:])}

        await ask(
            "chatbot sentiment by label, 90 days",
            plus(chatbot, contacts),
            sentiment,
            truth.sentiment_by_label(day_start(quarter), hi),
        )
    return rows


# -- a large account ----------------------------------------------------------------------------


async def large(emu: EmulatorProcess, data_dir: Path, runs: int) -> list[tuple[str, str]]:
    from mcp import Client

    from outperform_mcp.server.app import Selection, build_server
    from outperform_mcp.server.runtime import open_deps

    out: list[tuple[str, str]] = []
    async with open_deps(settings(emu, data_dir)) as deps:
        mirror = deps.mirror
        emu.latency(100)
        emu.reset_stats()
        started = time.perf_counter()
        await mirror.sync()  # no server built yet, so no background pass runs beside it
        took = time.perf_counter() - started
        calls = emu.stats()
        emu.latency(0)
        listed = ", ".join(f"{k} {v}" for k, v in calls.items() if v)
        out.append(("first sync, 100 ms API latency", f"{took:.1f} s, {sum(calls.values())} API calls ({listed})"))
        emu.reset_stats()
        await mirror.sync()
        calls = emu.stats()
        out.append(("refresh with nothing new: API calls", ", ".join(f"{k} {v}" for k, v in calls.items() if v)))
        async with Client(build_server(deps, Selection(toolsets=("insights",)))) as client:
            await mirror.refresh()  # let the background pass the server starts finish before timing
            for name, (tool, args) in (
                ("report p50 (by label, 30 days)", ("report", {"group_by": "label"})),
                ("report p50 (by day, 30 days)", ("report", {"group_by": "day"})),
                ("search p50 ('price', 10 hits)", ("search_messages", {"query": "price"})),
                (
                    "search p50 ('harga OR price', label lead)",
                    ("search_messages", {"query": "harga OR price", "label": "lead"}),
                ),
                ("segment p50 (awaiting reply, 100)", ("segment", {"kind": "awaiting_reply"})),
            ):
                times = []
                for _ in range(runs):
                    t = time.perf_counter()
                    result = await client.call_tool(tool, args)
                    times.append(time.perf_counter() - t)
                    assert not result.is_error, result.content
                out.append((name, f"{statistics.median(times) * 1000:.1f} ms"))
    return out


MEMORY_ROUNDS = 5
MEMORY_CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("report", {"group_by": "label"}),
    ("report", {"group_by": "day"}),
    ("search_messages", {"query": "price"}),
    ("search_messages", {"query": "harga OR price", "label": "lead"}),
    ("segment", {"kind": "awaiting_reply"}),
    ("chatbot_sessions", {"sentiment": "negative"}),
)


async def resident_mib(emu: EmulatorProcess, data_dir: Path) -> tuple[float, int]:
    """RSS of a stdio server (insights on) over ``data_dir`` after rounds of the mirror's questions.

    The labels endpoint fails meanwhile, so neither server's background pass changes its mirror:
    the full one stays full, the empty one empty."""
    import psutil
    from mcp import Client, StdioServerParameters

    await anyio.Path(data_dir).mkdir(parents=True, exist_ok=True)
    params = StdioServerParameters(
        command=sys.executable,
        args=[*OUR_STDIO_ARGS, "--toolsets", "contacts,conversations,insights"],
        env=server_env(emu, data_dir, OUTPERFORM_RETRY_ATTEMPTS="1"),
        cwd=str(data_dir),
    )
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    async with Client(params) as client:
        await client.list_tools()
        contacts = 0
        for _ in range(MEMORY_ROUNDS):
            for tool, args in MEMORY_CALLS:
                result = await client.call_tool(tool, args)
                assert not result.is_error, result.content
            out = await client.call_tool("report", {"metrics": ["contacts"], "start_date": "2000-01-01"})
            rows = (out.structured_content or {}).get("rows") or [[None, 0]]
            contacts = int(rows[0][1])
        [server] = [
            p
            for p in psutil.Process().children(recursive=True)
            if p.pid not in before and any("outperform_mcp.cli" in part for part in p.cmdline())
        ]
        return float(server.memory_info().rss) / (1024 * 1024), contacts


async def memory(emu: EmulatorProcess, full_dir: Path, empty_dir: Path) -> list[tuple[str, str]]:
    emu.control("POST", "faults", {"rules": [{"operation": "list_labels", "kind": "503", "count": 100_000}]})
    try:
        empty, none = await resident_mib(emu, empty_dir)
        full, contacts = await resident_mib(emu, full_dir)
    finally:
        emu.latency(0)
    return [
        (
            f"server RSS after {MEMORY_ROUNDS} rounds of {len(MEMORY_CALLS)} mirror questions",
            f"{full:.0f} MiB with the mirror ({contacts:,} contacts with messages), {empty:.0f} MiB with an empty "
            f"one ({none}): {full / empty:.2f}× (target ≤ 1.5×)",
        )
    ]


async def tools_per_toolset(emu: EmulatorProcess, data_dir: Path) -> list[tuple[str, int, int]]:
    from outperform_mcp.server.registry import OPT_IN, TOOLSETS

    rows = []
    for name in TOOLSETS:
        async with mcp(emu, data_dir / name, (name,)) as (client, _):
            tools = (await client.list_tools()).tools
        views = [
            json.dumps(
                {"name": t.name, "description": t.description or "", "inputSchema": t.input_schema},
                separators=(",", ":"),
                ensure_ascii=False,
            )
            for t in tools
        ]
        rows.append(
            (name + (" (opt-in)" if name in OPT_IN else ""), len(tools), sum(est_tokens(len(v)) for v in views))
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="2,000 contacts, 40,000 messages, 10 runs")
    args = parser.parse_args()
    if args.quick:
        args.contacts, args.messages, args.runs = 2_000, 40_000, 10

    async def run() -> None:
        with scratch_dir() as tmp, running_emulator() as emu:
            asked = await questions(emu, tmp / "questions")
            budget = await tools_per_toolset(emu, tmp / "tools")
        print(
            f"## Questions (standard seed; target ≤ {TARGET_CALLS} calls and ≤ {TARGET_TOKENS:,} tokens, "
            "answer = truth)\n"
        )
        print("| question | before (today's tools) | after (insights) | answer equal to the raw API, within target |")
        print("|---|---|---|---|")
        for q, was, now, ok in asked:
            print(f"| {q} | {was} | {now} | {'yes' if ok else '**NO**'} |")
        print("\n## tools/list per toolset (estimated tokens = characters / 4)\n")
        print("| toolset | tools | tokens |\n|---|---|---|")
        for name, n, tokens in budget:
            print(f"| {name} | {n} | {tokens:,} |")
        default = sum(t for name, _, t in budget if "opt-in" not in name)
        print(f"| default toolsets, total | | {default:,} (target ≤ 2,500) |")
        with scratch_dir() as tmp, running_emulator(contacts=args.contacts, messages=args.messages) as emu:
            figures = await large(emu, tmp, args.runs)
            figures += await memory(emu, tmp, tmp / "empty")
        print(f"\n## Large account ({args.contacts:,} contacts, {args.messages:,} messages)\n")
        print("| measure | figure |\n|---|---|")
        for name, value in figures:
            print(f"| {name} | {value} |")

    anyio.run(run)


if __name__ == "__main__":
    main()
