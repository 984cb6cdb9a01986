"""The store's contract, run against both backends: the embedded SQLite file and PostgreSQL.

The business rules are one set of functions; these tests pin what they promise whichever backend
holds the rows (single-use approvals under racing writers, dedupe, windows that only move
forward, case-insensitive campaign names, leases, shared keys and tokens, recovery by owner).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from outperform_mcp.api.auth import SharedGrant
from outperform_mcp.store import campaigns, contacts, inbox, journal, leases, optout, tokens
from outperform_mcp.store.db import Connection, SqliteStore, Store, existing, open_store

from .pg import fresh_schema

BACKENDS = ["sqlite", "postgres"]
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens another store on the same data (another process, as far as the backend can tell)."""
    opened: list[Store] = []
    if request.param == "sqlite":

        def make() -> Store:
            opened.append(SqliteStore(tmp_path / "outperform.db"))
            return opened[-1]

        yield make
    else:
        with fresh_schema() as url:

            def make() -> Store:
                opened.append(open_store(url, tmp_path))
                return opened[-1]

            yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Callable[[], Store]) -> Store:
    return opener()


def _approval(conn: Connection, approval_id: str, *, status: str = "approved", rows: int = 2) -> None:
    sends = [
        journal.NewSend(j, f"tok{j}", f"Name {j}", f"6012{j}", "session", f"hi {j}", None, [], None, f"ck{j}", None)
        for j in range(rows)
    ]
    journal.insert_approval(
        conn,
        approval_id=approval_id,
        client="c",
        digest="d",
        kind="session",
        channel="page",
        status=status,
        allowed_because=["window open"],
        created_at=T0,
        expires_at=T0 + timedelta(minutes=10),
        sends=sends,
        send_status="approved" if status == "approved" else "prepared",
    )


def _race(n: int, fn: Callable[[], bool]) -> list[bool]:
    results: list[bool] = []
    barrier = threading.Barrier(n)

    def one() -> None:
        barrier.wait()
        results.append(fn())

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_racing_commits_from_several_processes_use_an_approval_once(opener: Callable[[], Store]) -> None:
    stores = [opener() for _ in range(4)]
    stores[0].call(lambda conn: _approval(conn, "a1"))
    wins = _race(
        20,
        lambda: stores[threading.get_ident() % 4].call(
            lambda conn: journal.transition(conn, "a1", from_status="approved", to_status="used", at=T0)
        ),
    )
    assert wins.count(True) == 1
    row = stores[0].call(lambda conn: journal.sends_of(conn, "a1"))[0]
    marks = _race(10, lambda: stores[1].call(lambda conn: journal.mark_sending(conn, row.id, T0, "p1")))
    assert marks.count(True) == 1


def test_journal_round_trip_usage_and_listing(store: Store) -> None:
    store.call(lambda conn: _approval(conn, "a1"))
    approval = store.call(lambda conn: journal.get_approval(conn, "a1"))
    assert approval is not None
    assert (approval.status, approval.allowed_because, approval.created_at) == ("approved", ["window open"], T0)
    rows = store.call(lambda conn: journal.sends_of(conn, "a1"))
    assert [r.seq for r in rows] == [0, 1]
    assert store.call(lambda conn: journal.mark_sending(conn, rows[0].id, T0 + timedelta(minutes=1)))
    store.call(lambda conn: journal.finish(conn, rows[0].id, status="sent", at=T0, message_id="m1"))
    assert store.call(lambda conn: journal.usage(conn, T0 + timedelta(minutes=5))) == journal.Usage(1, 1)
    listed = store.call(lambda conn: journal.list_sends(conn, statuses=["sent"]))
    assert [(s.message_id, a.id) for s, a in listed] == [("m1", "a1")]


def test_latest_approval_breaks_a_tie_by_insertion_order(store: Store) -> None:
    for approval_id in ("first", "second"):
        store.call(lambda conn, a=approval_id: _approval(conn, a, status="pending"))  # type: ignore[misc]
    latest = store.call(lambda conn: journal.latest_approval(conn, digest="d", client="c"))
    assert latest is not None
    assert latest.id == "second"


def test_inbox_dedupes_orders_links_and_keeps_the_window_moving_forward(store: Store) -> None:
    def event(minute: int, text: str) -> inbox.NewEvent:
        return inbox.NewEvent("60123", "Cust", "text", text, T0 + timedelta(minutes=minute))

    first = store.call(lambda conn: inbox.insert(conn, event(5, "hello"), T0 + timedelta(minutes=6), optout.DEFAULT))
    again = store.call(lambda conn: inbox.insert(conn, event(5, "hello"), T0 + timedelta(minutes=7), optout.DEFAULT))
    older = store.call(lambda conn: inbox.insert(conn, event(1, "STOP"), T0 + timedelta(minutes=8), optout.DEFAULT))
    assert (first.duplicate, again.duplicate, again.id, older.id > first.id) == (False, True, first.id, True)
    state = store.call(lambda conn: contacts.get_state(conn, phone="60123"))
    assert state is not None
    assert state.last_inbound_at == T0 + timedelta(minutes=5)  # an older message does not move it back
    assert state.opted_out_at == T0 + timedelta(minutes=1)
    assert store.call(lambda conn: inbox.link(conn, phone="60123", token="tokA")) == 2
    page = store.call(lambda conn: inbox.page(conn, since=0, phone="60123", unread_only=True, limit=10))
    assert ([e.text for e in page.events], page.unread) == (["hello", "STOP"], 2)
    marked = store.call(lambda conn: inbox.mark(conn, ids=[first.id, 999], up_to=None, phone=None, at=T0))
    assert (marked.marked, marked.known, marked.unread) == (1, {first.id}, 1)
    assert store.call(lambda conn: inbox.phone_for_token(conn, "tokA")) == "60123"
    assert store.call(lambda conn: inbox.prune(conn, before=T0 + timedelta(minutes=7))) == 1
    assert store.call(inbox.latest_id) == older.id


def test_existing_answers_which_of_these_ids_or_tokens_are_stored(store: Store) -> None:
    """One "which of these exist" query for the inbox's ids (int) and the mirror's tokens (str)."""
    new = inbox.NewEvent("60123", "Cust", "text", "hi", T0)
    stored = store.call(lambda conn: inbox.insert(conn, new, T0, optout.DEFAULT))
    assert store.call(lambda conn: existing(conn, "inbox_events", "id", [stored.id, stored.id + 1])) == {stored.id}
    assert store.call(lambda conn: existing(conn, "inbox_events", "id", [])) == set()
    found = store.call(lambda conn: existing(conn, "contact_state", "phone", ["60123", "60999"]))
    assert found == {"60123"}


def test_campaign_names_match_whatever_their_case_and_created_contacts_upsert(store: Store) -> None:
    store.call(lambda conn: _approval(conn, "a1"))
    made = store.call(lambda conn: campaigns.attach(conn, "a1", name="Cheras Launch", default_name="x", at=T0))
    assert store.call(lambda conn: campaigns.find(conn, "cheras launch")) == made
    assert store.call(lambda conn: campaigns.attach(conn, "a1", name="other", default_name="x", at=T0)) == made
    store.call(lambda conn: contacts.remember_created(conn, token="t1", phone="+601"))
    store.call(lambda conn: contacts.remember_created(conn, token="t1", phone="+602"))
    assert store.call(lambda conn: contacts.created_phone(conn, "t1")) == "+602"


def test_a_lease_has_one_holder_until_it_expires(opener: Callable[[], Store]) -> None:
    a, b = opener(), opener()
    assert a.call(lambda conn: leases.acquire(conn, "job:x", "A", T0, 10))
    assert not b.call(lambda conn: leases.acquire(conn, "job:x", "B", T0 + timedelta(seconds=5), 10))
    assert a.call(lambda conn: leases.acquire(conn, "job:x", "A", T0 + timedelta(seconds=5), 10))  # renewed
    assert not b.call(lambda conn: leases.acquire(conn, "job:x", "B", T0 + timedelta(seconds=14), 10))
    assert b.call(lambda conn: leases.acquire(conn, "job:x", "B", T0 + timedelta(seconds=15), 10))  # taken over
    wins = _race(10, lambda: a.call(lambda conn: leases.acquire(conn, "job:y", str(threading.get_ident()), T0, 10)))
    assert wins.count(True) == 1
    assert a.call(lambda conn: leases.shared_key(conn, "k")) == b.call(lambda conn: leases.shared_key(conn, "k"))


def test_shared_tokens_round_trip(store: Store) -> None:
    grant = SharedGrant(SecretStr("acc"), SecretStr("ref"), T0, T0 + timedelta(hours=1))
    store.call(lambda conn: tokens.save(conn, "owner", grant, T0))
    assert store.call(lambda conn: tokens.load(conn, "owner")) == grant
    assert store.call(lambda conn: tokens.load(conn, "other")) is None


def test_recovery_on_a_shared_store_settles_only_the_rows_of_dead_processes(store: Store) -> None:
    now = T0 + timedelta(minutes=1)

    def seed(conn: Connection) -> None:
        for approval_id in ("live", "dead"):
            _approval(conn, approval_id)
            journal.transition(conn, approval_id, from_status="approved", to_status="used", at=T0)
            journal.claim_rows(conn, approval_id, approval_id)
            first = journal.sends_of(conn, approval_id)[0]
            journal.mark_sending(conn, first.id, T0, approval_id)
        leases.acquire(conn, "replica:live", "live", now, 15)

    store.call(seed)
    found = store.call(lambda conn: journal.recover(conn, now, shared=True))
    assert (found.unknown, found.not_sent) == (1, 1)
    {a: [r.status for r in store.call(lambda conn, a=a: journal.sends_of(conn, a))] for a in ("live", "dead")}  # type: ignore[misc]
    again = store.call(lambda conn: journal.recover(conn, now, shared=True))
    assert (again.unknown, again.not_sent) == (0, 0)


def test_an_error_inside_a_transaction_leaves_nothing_behind(store: Store) -> None:
    def half(conn: Connection) -> None:
        _approval(conn, "a1")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.call(half)
    assert store.call(lambda conn: journal.get_approval(conn, "a1")) is None


@pytest.mark.anyio
async def test_reads_see_what_writes_committed(store: Store) -> None:
    await store.run(lambda conn: _approval(conn, "a1"))
    found = await store.read(lambda conn: journal.get_approval(conn, "a1"))
    assert found is not None


def test_a_read_cannot_write_on_either_backend(store: Store) -> None:
    with pytest.raises(Exception, match=r"(?i)read.?only"):
        store.call_read(lambda conn: _approval(conn, "a1"))
    assert store.call(lambda conn: journal.get_approval(conn, "a1")) is None
