"""The insights and sql toolsets through a real MCP client, every answer checked against the
emulator's raw API read in the same test. Each insights test runs on both backends (the mirror
in the SQLite file, and in PostgreSQL in a schema of its own); the sql toolset is SQLite's only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from pydantic import SecretStr

from outperform_mcp.api.errors import OutPerformError
from outperform_mcp.server.app import Selection
from outperform_mcp.settings import GuardSettings, MirrorSettings, StoreSettings
from outperform_mcp.store import mirror

from .loopback import LOOPBACK
from .pg import fresh_schema
from .support import call, control, error_text, eventually
from .support import server_for as _server_for

pytestmark = pytest.mark.anyio
INSIGHTS = Selection(toolsets=("insights", "sql"))


# Tests of the sql toolset, which a shared (PostgreSQL) store does not serve.
SQLITE_ONLY = {
    "test_sql_is_read_only_bounded_and_matches_the_api",
    "test_own_template_send_is_in_the_mirror_at_once_and_once_after_sync",
    "test_insights_are_opt_in",
}
_database_url: str | None = None  # the running test's PostgreSQL schema, None on SQLite


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    backends = ["sqlite"] if metafunc.function.__name__ in SQLITE_ONLY else ["sqlite", "postgres"]
    metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture(autouse=True)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    global _database_url
    if request.param == "sqlite":
        yield "sqlite"
        return
    with fresh_schema() as url:
        _database_url = url
        try:
            yield "postgres"
        finally:
            _database_url = None


def server_for(emulator: Any, data_dir: Path, **kwargs: Any) -> Any:
    """The emulator is on loopback: no need to pace the sync's requests (keeps the tests fast)."""
    kwargs.setdefault("mirror", MirrorSettings(sync_rate=0))
    if _database_url is not None:
        kwargs.setdefault("store", StoreSettings(database_url=SecretStr(_database_url)))
    return _server_for(emulator, data_dir, **kwargs)


def raw(emulator: Any, headers: dict[str, str], path: str, **params: str) -> list[dict[str, Any]]:
    """Every record of a list endpoint, paged by hand."""
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        r = LOOPBACK.get(
            f"{emulator.base_url}/{path}", params={**params, "limit": "100", "page": str(page)}, headers=headers
        )
        r.raise_for_status()
        data = r.json()["data"]
        out += data
        if len(data) < 100:
            return out
        page += 1


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def awaiting_from_raw(emulator: Any, headers: dict[str, str]) -> list[str]:
    """Tokens of the threads whose last message is inbound, by when that unanswered run began."""
    expected = []
    for t in raw(emulator, headers, "conversations"):
        msgs = t["message"]
        if msgs and msgs[-1]["direction"] == "inbound":
            start = msgs[-1]["timestamp"]
            for m in reversed(msgs):
                if m["direction"] != "inbound":
                    break
                start = m["timestamp"]
            expected.append((start, t["prospect_token"]))
    return [token for _, token in sorted(expected)]


async def test_awaiting_reply_is_complete_oldest_first_and_paged(
    emulator: Any, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    expected = awaiting_from_raw(emulator, auth_headers)
    async with server_for(emulator, tmp_path, selection=INSIGHTS) as (server, _), Client(server) as c:
        got: list[str] = []
        first = await call(c, "segment", {"kind": "awaiting_reply", "limit": 7, "refresh": True})
        page = first
        while True:
            got += [row[0] for row in page["rows"]]
            assert len(page["rows"]) <= 7
            if page["next_cursor"] is None:
                break
            page = await call(c, "segment", {"kind": "awaiting_reply", "limit": 7, "cursor": page["next_cursor"]})
    assert first["total"] == len(expected) == len(got)
    assert got == expected
    assert first["as_of"] is not None


async def test_list_conversations_awaiting_reply_is_complete_and_in_order_without_insights(
    emulator: Any, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    expected = awaiting_from_raw(emulator, auth_headers)
    assert len(expected) > 20  # several pages of 7

    async def every_page(c: Client) -> tuple[list[str], list[dict[str, Any]]]:
        pages = [await call(c, "list_conversations", {"awaiting_reply": True, "limit": 7})]
        while pages[-1]["next_page"]:
            args = {"awaiting_reply": True, "limit": 7, "page": pages[-1]["next_page"]}
            pages.append(await call(c, "list_conversations", args))
        return [i["token"] for p in pages for i in p["items"]], pages

    settings = MirrorSettings(sync_rate=0, sync_interval=0)
    # Until the mirror has finished its first sync, every page of the API is read instead: the
    # labels failing keeps the sync the first call starts from finishing, whenever it runs.
    rules = [{"operation": "list_labels", "kind": "503", "count": 50}]
    control(emulator, "POST", "faults", {"rules": rules})
    async with (
        server_for(emulator, tmp_path, mirror=settings, retry_attempts=1) as (server, deps),
        Client(server) as c,
    ):
        from_api, pages = await every_page(c)
        assert pages[0]["as_of"] is None
        control(emulator, "POST", "faults", {"rules": []})
        await deps.mirror.sync()
        from_mirror, pages = await every_page(c)
        assert pages[0]["as_of"] is not None
    assert from_api == from_mirror == expected
    assert pages[0]["total"] == len(expected)
    assert all(len(p["items"]) == 7 for p in pages[:-1])
    assert all(i["last_direction"] == "inbound" for p in pages for i in p["items"])


async def test_a_tool_waiting_on_a_running_pass_gets_its_progress(emulator: Any, tmp_path: Path) -> None:
    started, release = anyio.Event(), anyio.Event()

    async def hold(kind: str, pages: int, stored: int) -> None:  # the background pass stops at its first page
        if not started.is_set():
            started.set()
            await release.wait()

    seen: list[tuple[float, str]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, message or ""))

    settings = MirrorSettings(sync_rate=0, sync_interval=0, sync_page_size=20)  # many pages all the same
    async with (
        server_for(emulator, tmp_path, selection=INSIGHTS, mirror=settings) as (server, deps),
        Client(server) as c,
        anyio.create_task_group() as tg,
    ):
        await deps.mirror.sync()  # after the one the server started (sync_interval=0: its only one)
        await deps.store.run(mirror.reset)  # so the next is a first pass, over many pages
        tg.start_soon(lambda: deps.mirror.sync(progress=hold))
        await started.wait()
        result: list[Any] = []

        async def ask() -> None:
            args = {"kind": "awaiting_reply", "refresh": True}
            result.append(await c.call_tool("segment", args, progress_callback=progress))

        tg.start_soon(ask)
        await eventually(lambda: deps.mirror.waiting)
        assert seen == []
        release.set()
    assert result[0].structured_content["as_of"] is not None
    # The first pass it waited on went through pages of contacts; its own refresh stops at page 1.
    assert any(done >= 2 and m.startswith("syncing contacts") for done, m in seen), seen


async def test_report_by_label_matches_the_raw_api(emulator: Any, auth_headers: dict[str, str], tmp_path: Path) -> None:
    contacts = {c["prospect_token"]: c["labels"] for c in raw(emulator, auth_headers, "contacts")}
    threads = raw(emulator, auth_headers, "conversations")
    today = datetime.now(UTC).date()
    start = today - timedelta(days=29)
    lo = datetime.combine(start, datetime.min.time(), UTC)
    per: dict[str, dict[str, Any]] = {}
    for t in threads:
        msgs = sorted(t["message"], key=lambda m: m["timestamp"])
        for label in contacts[t["prospect_token"]]:
            row = per.setdefault(label, {"contacts": set(), "inbound": 0, "outbound": 0, "turns": 0, "answered": 0})
            previous = None
            for i, m in enumerate(msgs):
                at = ts(m["timestamp"])
                if at >= lo:
                    row["contacts"].add(t["prospect_token"])
                    row[m["direction"]] += 1
                    if m["direction"] == "outbound" and previous != "outbound":
                        row["turns"] += 1
                        row["answered"] += any(n["direction"] == "inbound" for n in msgs[i + 1 :])
                previous = m["direction"]
    async with server_for(emulator, tmp_path, selection=INSIGHTS) as (server, _), Client(server) as c:
        out = await call(
            c,
            "report",
            {"group_by": "label", "refresh": True, "metrics": ["contacts", "inbound", "outbound", "reply_rate"]},
        )
    assert out["columns"] == ["group", "contacts", "inbound", "outbound", "reply_rate"]
    got = {row[0]: row[1:] for row in out["rows"]}
    want = {
        label: [
            len(r["contacts"]),
            r["inbound"],
            r["outbound"],
            round(100 * r["answered"] / r["turns"], 1) if r["turns"] else None,
        ]
        for label, r in per.items()
        if r["contacts"]
    }
    assert got == want
    assert out["range"] == f"{start.isoformat()}..{today.isoformat()}"


async def test_search_finds_every_message_with_the_word_and_marks_it(
    emulator: Any, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    threads = raw(emulator, auth_headers, "conversations")
    sessions = raw(emulator, auth_headers, "chatbot_conversations")
    word = re.compile(r"\bprice\b", re.IGNORECASE)
    in_messages = sum(bool(word.search(m["text"])) for t in threads for m in t["message"])
    in_chatbot = sum(bool(word.search(m["text"])) for s in sessions for m in s["message"])
    assert in_messages + in_chatbot > 0
    async with server_for(emulator, tmp_path, selection=INSIGHTS) as (server, _), Client(server) as c:
        out = await call(c, "search_messages", {"query": "PRICE", "refresh": True, "limit": 5})
        chatbot_only = await call(c, "search_messages", {"query": "price", "source": "chatbot"})
        bad = await error_text(c, "search_messages", {"query": "***"})
    assert out["total"] == in_messages + in_chatbot
    assert chatbot_only["total"] == in_chatbot
    assert len(out["hits"]) == min(5, out["total"])
    assert all("⟦" in h["snippet"] for h in out["hits"])
    assert "data" in out["untrusted"]
    assert "no words to search for" in bad


async def test_chatbot_session_read_whole_and_by_contact(
    emulator: Any, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    sessions = raw(emulator, auth_headers, "chatbot_conversations")
    one = max(sessions, key=lambda s: len(s["message"]))
    mine = sorted(
        (s for s in sessions if s["prospect_token"] == one["prospect_token"]),
        key=lambda s: s["started_at"],
        reverse=True,
    )
    async with server_for(emulator, tmp_path, selection=INSIGHTS) as (server, _), Client(server) as c:
        whole = await call(c, "chatbot_sessions", {"id": one["id"], "refresh": True})
        by_contact = await call(c, "chatbot_sessions", {"token": one["prospect_token"]})
        missing = await error_text(c, "chatbot_sessions", {"id": "999999"})
    session = whole["sessions"][0]
    assert [m["text"] for m in session["messages"]] == [m["text"] for m in one["message"]]
    assert session["sentiment"] == one["sentiment"]
    assert [s["id"] for s in by_contact["sessions"]] == [s["id"] for s in mine]
    assert "no chatbot session 999999" in missing


async def test_sql_is_read_only_bounded_and_matches_the_api(
    emulator: Any, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    threads = raw(emulator, auth_headers, "conversations")
    total = sum(len(t["message"]) for t in threads)
    async with server_for(emulator, tmp_path, selection=INSIGHTS) as (server, _), Client(server) as c:
        await call(c, "segment", {"kind": "window_open", "refresh": True})
        count = await call(c, "query_mirror", {"sql": "SELECT COUNT(*) AS n FROM messages"})
        rows = await call(c, "query_mirror", {"sql": "SELECT token FROM contacts", "max_rows": 5})
        write = await error_text(c, "query_mirror", {"sql": "DELETE FROM mirror_messages"})
        journal = await error_text(c, "query_mirror", {"sql": "SELECT * FROM sends"})
        typo = await error_text(c, "query_mirror", {"sql": "SELEC 1"})
        slow = await error_text(
            c,
            "query_mirror",
            {
                "sql": "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT COUNT(*) FROM r",
                "max_seconds": 0.2,
            },
        )
        views = await c.read_resource("outperform://mirror/views")
    assert count["rows"] == [[total]]
    assert rows["truncated"] is True
    assert len(rows["rows"]) == 5
    assert "outperform://mirror/views" in write
    assert "prohibited" in journal or "not authorized" in journal
    assert "syntax error" in typo
    assert "time bound of 0.2 s" in slow
    assert "threads" in views.contents[0].text  # type: ignore[union-attr]


async def test_own_template_send_is_in_the_mirror_at_once_and_once_after_sync(emulator: Any, tmp_path: Path) -> None:
    selection = Selection(toolsets=("insights", "sql", "messaging"))
    unattended = GuardSettings(approval_mode="none")
    async with (
        server_for(emulator, tmp_path, selection=selection, guard=unattended) as (server, _),
        Client(server) as c,
    ):
        await call(c, "segment", {"kind": "window_open", "refresh": True})
        target = await call(c, "query_mirror", {"sql": "SELECT token FROM contacts WHERE name = 'Kevin Ong'"})
        token = target["rows"][0][0]
        sent = await call(
            c, "send_template", {"tokens": [token], "template": "reengagement_hello_v1", "params": ["Kevin"]}
        )
        assert sent["status"] == "sent", sent
        query = f"SELECT type, template, direction FROM messages WHERE token = '{token}' AND type = 'template'"  # noqa: S608
        before = await call(c, "query_mirror", {"sql": query})
        await call(c, "segment", {"kind": "window_open", "refresh": True})
        after = await call(c, "query_mirror", {"sql": query})
    assert before["rows"] == [["template", "reengagement_hello_v1", "outbound"]]
    assert after["rows"] == before["rows"]  # the API's copy replaced the provisional row, no duplicate


async def test_insights_are_opt_in(emulator: Any, tmp_path: Path) -> None:
    async with server_for(emulator, tmp_path) as (server, _), Client(server) as c:
        default = {t.name for t in (await c.list_tools()).tools}
    async with (
        server_for(emulator, tmp_path / "all", selection=Selection(toolsets=("all",))) as (server, _),
        Client(server) as c,
    ):
        every = {t.name for t in (await c.list_tools()).tools}
    assert not default & {"search_messages", "segment", "report", "chatbot_sessions", "query_mirror"}
    assert {"search_messages", "segment", "report", "chatbot_sessions", "query_mirror"} <= every


async def test_opted_out_and_label_segments(emulator: Any, auth_headers: dict[str, str], tmp_path: Path) -> None:
    from outperform_mcp.store.optout import DEFAULT as OPT_OUT

    contacts = raw(emulator, auth_headers, "contacts")
    threads = raw(emulator, auth_headers, "conversations")
    labelled = {c["prospect_token"] for c in contacts if "opt-out" in c["labels"]}
    wrote_stop = {
        t["prospect_token"]
        for t in threads
        if any(m["direction"] == "inbound" and OPT_OUT.matches(m["text"]) for m in t["message"])
    }
    vip = sorted(c["prospect_token"] for c in contacts if "vip" in c["labels"])
    async with server_for(emulator, tmp_path, selection=INSIGHTS) as (server, _), Client(server) as c:
        opted = await call(c, "segment", {"kind": "opted_out", "refresh": True, "limit": 200})
        first = await call(c, "segment", {"kind": "label", "label": "vip", "limit": 5})
        second = await call(
            c, "segment", {"kind": "label", "label": "vip", "limit": 200, "cursor": first["next_cursor"]}
        )
        missing = await error_text(c, "segment", {"kind": "silent"})
    assert {r[0] for r in opted["rows"]} == labelled | wrote_stop
    assert [r[0] for r in first["rows"] + second["rows"]] == vip
    assert "needs days" in missing


async def test_refresh_reports_progress_and_freshness(emulator: Any, tmp_path: Path) -> None:
    seen: list[str] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append(message or "")

    before = datetime.now(UTC).replace(microsecond=0)
    async with server_for(emulator, tmp_path, selection=INSIGHTS) as (server, _), Client(server) as c:
        result = await c.call_tool("segment", {"kind": "window_open", "refresh": True}, progress_callback=progress)
        status = await c.read_resource("outperform://mirror/status")
    assert result.structured_content is not None
    assert ts(result.structured_content["as_of"].rstrip("Z")) >= before - timedelta(seconds=1)
    assert any(m.startswith("syncing conversations") for m in seen), seen
    assert '"complete":true' in status.contents[0].text.replace(" ", "")  # type: ignore[union-attr]


@pytest.mark.parametrize("overlap_days", [0, 60])
async def test_refresh_with_nothing_new_costs_one_call_per_kind(
    emulator: Any, tmp_path: Path, overlap_days: int
) -> None:
    # Small pages, so paging on where it should stop would show; an overlap reaching back over every
    # thread (as a busy day does on a large account: the API filters by whole days) must not either.
    settings = MirrorSettings(sync_rate=0, sync_page_size=10, sync_overlap=overlap_days * 86400 or 7200)
    async with server_for(emulator, tmp_path, mirror=settings) as (_, deps):
        first = await deps.mirror.sync()
        control(emulator, "POST", "stats/reset")
        again = await deps.mirror.sync()
    calls = control(emulator, "GET", "stats")["requests"]
    assert first.calls["conversations"] > 10
    assert (again.calls["labels"], again.calls["contacts"], again.calls["conversations"]) == (1, 1, 1)
    assert (calls["list_labels"], calls["list_contacts"], calls["list_conversations"]) == (1, 1, 1)
    if not overlap_days:  # sessions change in place (no move to the top), so the overlap is read whole
        assert again.calls["chatbot"] == calls["chatbot_conversations"] == 1


async def test_search_contacts_by_label_is_complete_across_pages(
    emulator: Any, auth_headers: dict[str, str], tmp_path: Path
) -> None:
    # The API filters by label before it pages, so the pages hold every labelled contact once.
    everyone = raw(emulator, auth_headers, "contacts")
    expected = {c["prospect_token"] for c in everyone if "lead" in c["labels"]}
    assert len(expected) > 7
    async with server_for(emulator, tmp_path) as (server, _), Client(server) as c:
        got: list[str] = []
        page: dict[str, Any] = {"next_page": 1}
        while page["next_page"]:
            page = await call(c, "search_contacts", {"label": "LEAD", "limit": 7, "page": page["next_page"]})
            got += [i["token"] for i in page["items"]]
    assert sorted(got) == sorted(expected)


async def test_a_page_failing_in_a_first_pass_is_an_api_error_not_a_crash(emulator: Any, tmp_path: Path) -> None:
    # Pages are fetched several at a time; a failing one must come out as the API error the
    # background loop retries on, not as a task group's exception group that ends the server.
    control(emulator, "POST", "faults", {"rules": [{"operation": "list_contacts", "kind": "503", "count": 50}]})
    settings = MirrorSettings(sync_rate=0, sync_interval=0)
    async with server_for(emulator, tmp_path, mirror=settings, retry_attempts=1) as (_, deps):
        with pytest.raises(OutPerformError):
            await deps.mirror.sync()
        control(emulator, "POST", "faults", {"rules": []})
        report = await deps.mirror.sync()  # resumes where it stopped
    assert report.stored["contacts"] > 0
