"""Pure logic of the mirror, table-driven: turns and first replies, FTS query building, ranks, cursors,
and the folding of provisional copies (webhook, own send) into the API's copy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from outperform_mcp.api.models import Contact, Conversation
from outperform_mcp.store import inbox, mirror, mirror_dialect, mirror_fts, mirror_queries
from outperform_mcp.store.db import Connection, SqliteStore, Store, open_store
from outperform_mcp.store.optout import DEFAULT, OptOutRules

from .pg import fresh_schema


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The mirror's rules on each backend (PostgreSQL: a schema of its own)."""
    if request.param == "sqlite":
        opened: Store = SqliteStore(tmp_path / "m.db")
        yield opened
        opened.close()
        return
    with fresh_schema() as url:
        opened = open_store(url, tmp_path)
        yield opened
        opened.close()


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([], []),
        ([(1, "inbound")], [(True, None)]),
        ([(1, "inbound"), (5, "inbound"), (9, "outbound")], [(True, 9), (False, 9), (True, None)]),
        ([(1, "outbound"), (3, "inbound"), (4, "outbound")], [(True, 3), (True, 4), (True, None)]),
        ([(1, "outbound"), (2, "outbound")], [(True, None), (False, None)]),
    ],
)
def test_turns(messages: list[tuple[int, str]], expected: list[tuple[bool, int | None]]) -> None:
    assert [(t.turn_start, t.answered_at) for t in mirror.turns(messages)] == expected


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("price", '"price"'),
        ("price OR harga", '"price" OR "harga"'),
        ('harga" OR 1=1 --', '"harga" OR "1" "1"'),
        ("pric*", '"pric"*'),
        ("OR price OR", '"price"'),
        ("Hargá rumah", '"Hargá" "rumah"'),
    ],
)
def test_fts_query(text: str, query: str) -> None:
    assert mirror_fts.fts_query(text) == query


@pytest.mark.parametrize("text", ["", "***", "OR", "-- ;"])
def test_fts_query_without_words_is_refused(text: str) -> None:
    with pytest.raises(mirror_fts.BadQuery, match="no words"):
        mirror_fts.fts_query(text)


@pytest.mark.parametrize(
    ("values", "num", "den", "expected"),
    [
        ([], 1, 2, None),
        ([5], 1, 2, 5),
        ([1, 2, 3, 4], 1, 2, 2),
        ([1, 2, 3, 4, 5], 1, 2, 3),
        (list(range(1, 11)), 9, 10, 9),
        (list(range(1, 12)), 9, 10, 10),
        ([10, 1, 7], 9, 10, 10),
    ],
)
def test_nearest_rank(values: list[int], num: int, den: int, expected: int | None) -> None:
    assert mirror_queries.nearest_rank(values, num, den) == expected


@pytest.mark.parametrize("cursor", ["abc", "", "x.token"])
def test_bad_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="pass next_cursor unchanged"):
        mirror_queries.decode_cursor(cursor)


def test_cursor_round_trip() -> None:
    assert mirror_queries.decode_cursor(mirror_queries.encode_cursor(-17, "abc")) == (-17, "abc")


TOKEN = "a" * 32
NOW = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def thread(*messages: tuple[str, str, str]) -> Conversation:
    return Conversation.model_validate(
        {"prospect_token": TOKEN, "message": [{"timestamp": t, "text": x, "direction": d} for t, x, d in messages]}
    )


def test_accents_and_case_fold_in_search(store: Store) -> None:
    store.call(
        lambda c: mirror.upsert_conversations(c, [thread(("2026-01-01 10:00:00", "Berapa HARGÁ?", "inbound"))], DEFAULT)
    )
    for query in ("harga", "HARGA", "hargá", "harg*"):
        hits, total = store.call(lambda c, q=query: mirror_fts.search(c, q, mirror_fts.Filters()))
        assert total == 1, query
        assert hits[0].snippet == "Berapa ⟦HARGÁ⟧?"


def test_api_copy_replaces_a_provisional_webhook_row(store: Store) -> None:
    contact = Contact.model_validate({"prospect_token": TOKEN, "name": "A", "contact": "60123"})
    store.call(lambda c: mirror.upsert_contacts(c, [contact], 0))
    store.call(
        lambda c: c.execute(
            "INSERT INTO mirror_messages (token, at, direction, text, source, local_ref) "
            "VALUES (?, ?, 'inbound', 'hi', 'webhook', 'webhook:1')",
            (TOKEN, 1767261601),  # one second off the API's timestamp
        )
    )
    store.call(lambda c: mirror.upsert_conversations(c, [thread(("2026-01-01 10:00:00", "hi", "inbound"))], DEFAULT))
    store.call(lambda c: mirror.upsert_conversations(c, [thread(("2026-01-01 10:00:00", "hi", "inbound"))], DEFAULT))
    rows = store.call(lambda c: c.execute("SELECT source, local_ref, at FROM mirror_messages").fetchall())
    assert [tuple(r) for r in rows] == [("api", "webhook:1", 1767261600)]
    awaiting = store.call(lambda c: c.execute("SELECT awaiting_since FROM mirror_threads").fetchone()[0])
    assert awaiting == 1767261600


def test_reset_forgets_everything_search_included(store: Store) -> None:
    store.call(
        lambda c: mirror.upsert_conversations(c, [thread(("2026-01-01 10:00:00", "harga?", "inbound"))], DEFAULT)
    )
    store.call(mirror.reset)
    assert store.call(lambda c: mirror_fts.search(c, "harga", mirror_fts.Filters())) == ([], 0)
    assert store.call(lambda c: c.execute("SELECT COUNT(*) FROM mirror_threads").fetchone()[0]) == 0
    assert store.call(mirror.freshness) == mirror.Freshness(None, False)


@pytest.mark.parametrize(
    ("tokens", "limit", "pages"),
    [
        ([], 2, [[]]),
        (["b", "a"], 2, [["a", "b"]]),
        (["c", "a", "b"], 2, [["a", "b"], ["c"]]),
        (["d", "c", "b", "a"], 2, [["a", "b"], ["c", "d"]]),
        (["a", "b", "c"], 1, [["a"], ["b"], ["c"]]),
    ],
)
def test_a_segment_computed_whole_pages_in_token_order_once(
    tokens: list[str], limit: int, pages: list[list[str]]
) -> None:
    rows = [mirror_queries.SegmentRow(t, t.upper(), "6012", None) for t in tokens]
    got: list[list[str]] = []
    cursor = None
    while True:
        page = mirror_queries.page_of(rows, cursor, limit)
        assert page.total == len(tokens)
        got.append([r.token for r in page.rows])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert got == pages


def test_a_webhook_message_keeps_the_opt_out_the_inbox_decided(store: Store) -> None:
    """The inbox decided opt-out with the configured phrases (OUTPERFORM_OPT_OUT_PHRASES); folding
    the event into the mirror keeps that decision instead of re-deciding with the built-in ones."""
    contact = Contact.model_validate({"prospect_token": TOKEN, "name": "A", "contact": "60123456789"})
    store.call(lambda c: mirror.upsert_contacts(c, [contact], 0))
    event = inbox.NewEvent(phone="60123456789", name=None, kind="text", text="No more promos", sent_at=NOW)
    store.call(lambda c: inbox.insert(c, event, NOW, OptOutRules(["no more promos"])))
    assert store.call(mirror.absorb_local) == 1
    assert store.call(lambda c: c.execute("SELECT opt_out FROM mirror_messages").fetchone()[0]) == 1


# Year ends and starts, a Sunday/Monday pair, a leap day: where week numbering goes wrong.
MOMENTS = [
    "2025-12-28 23:59:59",
    "2025-12-29 00:00:00",
    "2026-01-01 00:00:00",
    "2026-01-04 12:00:00",
    "2026-01-05 00:00:00",
    "2027-01-03 08:00:00",
    "2028-02-29 23:00:00",
    "2028-12-31 23:59:59",
]


def test_calendar_buckets_are_the_same_on_both_backends(store: Store) -> None:
    """Reports group by day and week in SQL, written differently per backend (store.mirror_dialect);
    both must give SQLite's strftime answers ('%Y-%m-%d', '%Y-W%W': weeks from Monday, week 00
    before the year's first Monday), computed here in Python."""
    for text in MOMENTS:
        at = datetime.fromisoformat(text).replace(tzinfo=UTC)
        seconds = int(at.timestamp())

        def buckets(c: Connection, s: int = seconds) -> tuple[str, str]:
            expressions = f"{mirror_dialect.day(c, 'x')}, {mirror_dialect.week(c, 'x')}"
            row = c.execute(f"SELECT {expressions} FROM (SELECT CAST(? AS BIGINT) AS x) AS moment", (s,)).fetchone()  # noqa: S608
            return (row[0], row[1])

        got = store.call(buckets)
        assert got == (at.strftime("%Y-%m-%d"), at.strftime("%Y-W%W")), text


def _threads_table(store: Store) -> list[tuple[object, ...]]:
    rows = store.call(lambda c: c.execute("SELECT * FROM mirror_threads ORDER BY token").fetchall())
    return [tuple(r) for r in rows]


def _turn_facts(store: Store) -> list[tuple[object, ...]]:
    rows = store.call(
        lambda c: c.execute(
            "SELECT token, at, turn_start, answered_at FROM mirror_messages ORDER BY token, at"
        ).fetchall()
    )
    return [tuple(r) for r in rows]


def test_a_page_of_threads_is_stored_as_each_thread_alone_whatever_the_chunk(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storing a page reads and writes all its threads together, in chunks of tokens: the messages,
    turn facts and thread summaries must be exactly those of storing each thread on its own."""
    page = [
        Conversation.model_validate(
            {
                "prospect_token": f"tok{n}",
                "message": [
                    {"timestamp": f"2026-01-0{1 + n % 3} 10:0{k}:00", "text": f"m{n}-{k}", "direction": d}
                    for k, d in enumerate(["inbound", "outbound", "inbound"][: 1 + n % 3])
                ],
            }
        )
        for n in range(7)
    ]
    alone = SqliteStore(tmp_path / "alone.db")
    try:
        for t in page:
            alone.call(lambda c, t=t: mirror.upsert_conversations(c, [t], DEFAULT))
        expected = (_threads_table(alone), _turn_facts(alone))
    finally:
        alone.close()
    monkeypatch.setattr(mirror, "_CHUNK", 3)  # 7 threads: chunks of 3, 3 and 1
    added = store.call(lambda c: mirror.upsert_conversations(c, page, DEFAULT))
    assert added == sum(len(t.messages) for t in page)
    assert (_threads_table(store), _turn_facts(store)) == expected
    # The same page again adds nothing and changes nothing.
    assert store.call(lambda c: mirror.upsert_conversations(c, page, DEFAULT)) == 0
    assert (_threads_table(store), _turn_facts(store)) == expected
