"""What the mirror's queries say differently on each backend: calendar buckets of Unix seconds.

Everything else in store.mirror* is SQL both run alike; full-text search is in ``mirror_fts``.
"""

from __future__ import annotations

from typing import Literal

from .db import Connection

Dialect = Literal["sqlite", "postgres"]


def dialect(conn: Connection) -> Dialect:
    """The backend behind ``conn`` (the PostgreSQL adapter says so; sqlite3's connection cannot)."""
    return "postgres" if getattr(conn, "dialect", None) == "postgres" else "sqlite"


def ordered_join(conn: Connection) -> str:
    """An inner join whose left side SQLite must read first (its CROSS JOIN, which its planner never
    reorders); PostgreSQL plans a plain JOIN well and has no CROSS JOIN ... ON."""
    return "JOIN" if dialect(conn) == "postgres" else "CROSS JOIN"


def day(conn: Connection, at: str) -> str:
    """``YYYY-MM-DD`` (UTC) of the Unix-seconds expression ``at``."""
    if dialect(conn) == "postgres":
        return f"to_char(to_timestamp({at}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    return f"date({at}, 'unixepoch')"


def week(conn: Connection, at: str) -> str:
    """``YYYY-Www`` (UTC), weeks starting on Monday, week 00 before the year's first Monday (SQLite's %W)."""
    if dialect(conn) == "postgres":
        d = f"(to_timestamp({at}) AT TIME ZONE 'UTC')"
        number = f"((EXTRACT(DOY FROM {d})::int - 1 + 7 - (EXTRACT(ISODOW FROM {d})::int - 1)) / 7)"
        return f"(to_char({d}, 'YYYY') || '-W' || lpad({number}::text, 2, '0'))"
    return f"strftime('%Y-W%W', {at}, 'unixepoch')"
