"""Schema migrations and database faults: an old store upgraded in place without losing a row, a
failed migration that changes nothing, a database that cannot be reached at start (one line, exit
2), a connection lost while serving (retried, never doubled), and a send whose journal write fails
(never sent)."""

from __future__ import annotations

import logging
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from mcp import Client

from outperform_mcp import cli
from outperform_mcp.store import campaigns, inbox, journal, optout, postgres
from outperform_mcp.store.db import SqliteStore, StoreUnavailable, open_store
from outperform_mcp.store.migrations import LATEST, MIGRATIONS, Migration, MigrationError, migrate_sqlite

from . import pg
from .guard_harness import guarded, people, sent
from .pg import fresh_schema
from .support import call, error_text, free_port

FIXTURE = Path(__file__).parent / "fixtures" / "store-before-migrations.sql"
BROKEN = (*MIGRATIONS, Migration(LATEST + 1, "broken", "CREATE TABLE half (a TEXT);\nSELEC oops;", ""))
BROKEN_PG = (*MIGRATIONS, Migration(LATEST + 1, "broken", "", "CREATE TABLE half (a TEXT);\nSELEC oops;"))


def _old_store(tmp_path: Path) -> Path:
    path = tmp_path / "outperform.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(FIXTURE.read_text())
    return path


def _counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        tables = ["send_approvals", "sends", "inbox_events", "contact_state", "created_contacts", "campaigns"]
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}  # noqa: S608


@pytest.mark.anyio
async def test_a_store_written_before_migrations_upgrades_in_place_and_keeps_every_row(tmp_path: Path) -> None:
    path = _old_store(tmp_path)
    before = _counts(path)
    assert before == {
        "send_approvals": 5,
        "sends": 8,
        "inbox_events": 6,
        "contact_state": 3,
        "created_contacts": 1,
        "campaigns": 4,
    }
    store = SqliteStore(path)
    try:
        assert _counts(path) == before
        versions = store.call(lambda conn: [r[0] for r in conn.execute("SELECT version FROM schema_migrations")])
        assert versions == [m.version for m in MIGRATIONS]
        sends = store.call(lambda conn: journal.list_sends(conn, limit=50))
        assert sorted(s.status for s, _ in sends) == sorted(
            ["sent", "sent", "sending", "approved", "prepared", "rejected", "unknown", "failed"]
        )
        assert {s.message_id for s, _ in sends if s.status == "sent"} == {"wamid.1", "wamid.2"}
        events = store.call(lambda conn: inbox.list_events(conn, limit=50))
        assert [e.text for e in events] == ["reply 0", "reply 1", "reply 2", "reply 3", "reply 4", "STOP"]
        assert events[0].handled_at is not None
        assert events[0].token == "tok00"
        loaded = store.call(lambda conn: campaigns.load(conn, "cheras launch"))
        assert loaded is not None
        assert [r.approval_id for r in loaded.rows] == ["appr00", "appr00", "appr01", "appr01"]
        # The old rows behave under the new rules: the interrupted send is settled, nothing is sent.
        found = store.call(lambda conn: journal.recover(conn, events[0].received_at))
        assert (found.unknown, found.not_sent) == (1, 1)
    finally:
        store.close()
    reopened = SqliteStore(path)  # a second start applies nothing
    reopened.close()
    assert _counts(path) == before


def test_a_failed_sqlite_migration_leaves_the_schema_as_it_was(tmp_path: Path) -> None:
    path = _old_store(tmp_path)
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        migrate_sqlite(conn, BROKEN)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "schema_migrations" not in tables  # not even migrations 1 and 2, which ran in the same transaction
    assert "half" not in tables
    assert "leases" not in tables
    conn.close()
    assert _counts(path)["sends"] == 8


def test_a_failed_postgres_migration_leaves_the_schema_as_it_was(tmp_path: Path) -> None:
    with fresh_schema() as url, psycopg.connect(url) as conn:
        with pytest.raises(psycopg.errors.SyntaxError):
            postgres.migrate(conn, "test", BROKEN_PG)
        conn.rollback()
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
        assert tables == set()
        assert postgres.migrate(conn, "test") == [m.version for m in MIGRATIONS]
        assert postgres.migrate(conn, "test") == []


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = _old_store(tmp_path)
    SqliteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', 'x')")
    with pytest.raises(MigrationError, match="newer outperform-mcp"):
        SqliteStore(path)


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """``cli.main`` sets up logging on the captured stderr; put the test session's back afterwards."""
    root, ours = logging.getLogger(), logging.getLogger("outperform_mcp")
    handlers, levels = list(root.handlers), (root.level, ours.level)
    yield
    root.handlers[:] = handlers
    root.setLevel(levels[0])
    ours.setLevel(levels[1])


@pytest.mark.usefixtures("cli_logging")
def test_an_unreachable_database_stops_the_server_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    monkeypatch.setenv("OUTPERFORM_DATABASE_URL", f"postgresql://someone:hunter2secret@127.0.0.1:{port}/test")
    monkeypatch.setenv("OUTPERFORM_CLIENT_ID", "id")
    monkeypatch.setenv("OUTPERFORM_CLIENT_SECRET", "secret")
    assert cli.main(["--http", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"postgresql://someone:***@127.0.0.1:{port}/test" in err
    assert "refused" in err.lower()
    assert "hunter2secret" not in err


@pytest.mark.usefixtures("cli_logging")
def test_workers_on_sqlite_are_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OUTPERFORM_CLIENT_ID", "id")
    monkeypatch.setenv("OUTPERFORM_CLIENT_SECRET", "secret")
    assert cli.main(["--http", "--workers", "2"]) == 2
    assert "OUTPERFORM_DATABASE_URL" in capsys.readouterr().err


def _backend_pid(store: Any) -> int:
    return int(store.call(lambda conn: conn.execute("SELECT pg_backend_pid()").fetchone()[0]))


def test_a_connection_lost_while_serving_is_retried_and_never_doubles_a_write(tmp_path: Path) -> None:
    with fresh_schema() as url:
        store = open_store(url, tmp_path)
        try:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (_backend_pid(store),))
                assert store.call_read(inbox.latest_id) == 0  # the dead connection is replaced, the read retried
                admin.execute("SELECT pg_terminate_backend(%s)", (_backend_pid(store),))
                event = inbox.NewEvent("6012", None, "text", "hi", datetime(2026, 11, 20, 9, tzinfo=UTC))
                stored = store.call(lambda conn: inbox.insert(conn, event, event.sent_at, optout.DEFAULT))
                assert stored.duplicate is False
                assert store.call(lambda conn: inbox.count(conn)) == 1
        finally:
            store.close()


def test_a_database_that_stays_away_fails_reads_clearly(tmp_path: Path) -> None:
    name = "outperform_gone_" + secrets.token_hex(4)
    with psycopg.connect(pg.SERVER_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = pg.SERVER_URL.rsplit("/", 1)[0] + "/" + name
            store = postgres.PostgresStore(url, wait=0.3)
            try:
                assert store.call_read(inbox.latest_id) == 0
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
                with pytest.raises(StoreUnavailable, match=r"did not answer .*nothing was changed"):
                    store.call_read(inbox.latest_id)
            finally:
                store.close()
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


KILL_ON_SENDING = """
CREATE FUNCTION die_on_sending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'sending' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER die_on_sending BEFORE UPDATE ON sends FOR EACH ROW EXECUTE FUNCTION die_on_sending();
"""


@pytest.mark.anyio
async def test_a_send_whose_journal_write_fails_is_not_sent(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    with fresh_schema() as url:
        async with guarded(emulator, tmp_path, database_url=url, approval_mode="host") as (server, deps):
            async with Client(server) as c:
                prepared = await call(c, "send_message", {"token": p.daniel, "text": "Hello from PG"})
                with psycopg.connect(url, autocommit=True) as admin:
                    admin.execute(KILL_ON_SENDING)
                args = {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
                text = await error_text(c, "commit_send", args)
            rows = await deps.store.read(lambda conn: journal.sends_of(conn, prepared["approval_id"]))
    assert "database" in text
    assert "Traceback" not in text
    assert sent(emulator) == []
    assert [r.status for r in rows] == ["failed"]


@pytest.mark.anyio
async def test_the_guard_sends_once_on_postgres(emulator: Any, tmp_path: Path) -> None:
    p = people(emulator)
    with fresh_schema() as url:
        async with (
            guarded(emulator, tmp_path, database_url=url, approval_mode="host") as (server, _deps),
            Client(server) as c,
        ):
            prepared = await call(c, "send_message", {"token": p.daniel, "text": "Hello from PG"})
            args = {"approval_id": prepared["approval_id"], "commit_code": prepared["commit_code"]}
            first = await call(c, "commit_send", args)
            again = await call(c, "commit_send", args)
    assert first["status"] == "sent"
    assert again["status"] == "sent"
    assert [m["text"] for m in sent(emulator)] == ["Hello from PG"]


def test_the_sqlite_default_never_imports_the_postgres_driver(tmp_path: Path) -> None:
    """Start-up budget: serving on SQLite loads no part of psycopg."""
    code = (
        "import sys, anyio\n"
        "from outperform_mcp import cli\n"
        "from outperform_mcp.server import runtime\n"
        "from outperform_mcp.store.db import open_store\n"
        f"open_store(None, __import__('pathlib').Path({str(tmp_path)!r})).close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'psycopg_pool')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
