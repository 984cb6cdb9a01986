"""PostgreSQL for the tests: each test (or module) gets a schema of its own, dropped afterwards, so
tests and other runs sharing the database never see each other's rows, locks or notifications
(the store keys its advisory locks and channels by schema)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

SERVER_URL = os.environ.get("OUTPERFORM_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
# Read at import: the tests' hermetic fixture removes every OUTPERFORM_* variable before each test.
REQUIRED = os.environ.get("OUTPERFORM_REQUIRE_POSTGRES") == "1"


def reachable() -> str | None:
    """None when the test database answers, else why not."""
    try:
        with psycopg.connect(SERVER_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


def with_search_path(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}"


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A database URL whose search_path is a new, empty schema; the schema is dropped after."""
    problem = reachable()
    if problem:
        # The README's test command needs no database server: without one these tests skip and say
        # why. CI (.ci/run) sets OUTPERFORM_REQUIRE_POSTGRES=1, which turns the skip into a failure.
        reason = (
            f"PostgreSQL at {SERVER_URL} is not reachable ({problem}); start it or set OUTPERFORM_TEST_DATABASE_URL"
        )
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    name = "t_" + secrets.token_hex(6)
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield with_search_path(SERVER_URL, name)
    finally:
        with psycopg.connect(SERVER_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')
