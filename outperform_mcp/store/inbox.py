"""Inbound WhatsApp messages: the events table, cursor queries, linking to contacts, retention.

Every function takes the connection of one ``Store`` transaction. The event id is the cursor: it
only grows (AUTOINCREMENT, so pruning never lets an id come back) and orders events by arrival.
The payload has no event id, so a duplicate delivery is recognised by a key over (phone,
timestamp, text): a UNIQUE index and ``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import contacts
from .db import Connection, existing, iso, moment
from .optout import OptOutRules


@dataclass(frozen=True)
class NewEvent:
    """One validated inbound message, ready to store (``phone`` as E.164 digits)."""

    phone: str
    name: str | None
    kind: str
    text: str
    sent_at: datetime

    @property
    def dedupe_key(self) -> str:
        raw = "\x1f".join((self.phone, iso(self.sent_at), self.kind, self.text))
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Stored:
    id: int
    phone: str
    token: str | None
    duplicate: bool
    opt_out: bool


@dataclass(frozen=True)
class Event:
    id: int
    phone: str
    token: str | None
    name: str | None
    kind: str
    text: str
    sent_at: datetime
    received_at: datetime
    opt_out: bool
    handled_at: datetime | None


def _event(row: Any) -> Event:
    sent = moment(row["sent_at"])
    received = moment(row["received_at"])
    assert sent is not None
    assert received is not None
    return Event(
        id=row["id"],
        phone=row["phone"],
        token=row["token"],
        name=row["name"],
        kind=row["kind"],
        text=row["text"],
        sent_at=sent,
        received_at=received,
        opt_out=bool(row["opt_out"]),
        handled_at=moment(row["handled_at"]),
    )


def insert(conn: Connection, event: NewEvent, received_at: datetime, rules: OptOutRules) -> Stored:
    """Store one event (or recognise a duplicate) and update the contact's window/opt-out state.

    Runs in the caller's transaction, so the event and the contact state commit together.
    """
    phone = event.phone
    key = event.dedupe_key
    known = contacts.get_state(conn, phone=phone)
    token = known.token if known else None
    opt_out = contacts.is_opt_out(event.text, rules)
    added = conn.execute(
        """INSERT INTO inbox_events
           (dedupe_key, phone, token, name, kind, text, sent_at, received_at, opt_out)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id""",
        (key, phone, token, event.name, event.kind, event.text, iso(event.sent_at), iso(received_at), int(opt_out)),
    ).fetchone()
    if added is None:
        row = conn.execute("SELECT id, token, opt_out FROM inbox_events WHERE dedupe_key = ?", (key,)).fetchone()
        return Stored(row["id"], phone, row["token"], duplicate=True, opt_out=bool(row["opt_out"]))
    # The window is counted from when the message was sent, but never from a time later than its
    # arrival: a skewed or forged future timestamp must not hold the window open.
    opened_at = min(event.sent_at, received_at)
    contacts.record_inbound(conn, phone=phone, at=opened_at.astimezone(UTC), text=event.text, rules=rules)
    return Stored(int(added[0]), phone, token, duplicate=False, opt_out=opt_out)


def latest_id(conn: Connection) -> int:
    row = conn.execute("SELECT MAX(id) FROM inbox_events").fetchone()
    return int(row[0] or 0)


def list_events(
    conn: Connection,
    *,
    since: int = 0,
    phone: str | None = None,
    unread_only: bool = False,
    limit: int = 20,
    newest_first: bool = False,
) -> list[Event]:
    """Events with id > ``since``, oldest first (or newest first), at most ``limit``."""
    where = ["id > ?"]
    args: list[object] = [since]
    if phone is not None:
        where.append("phone = ?")
        args.append(phone)
    if unread_only:
        where.append("handled_at IS NULL")
    order = "DESC" if newest_first else "ASC"
    args.append(limit)
    sql = f"SELECT * FROM inbox_events WHERE {' AND '.join(where)} ORDER BY id {order} LIMIT ?"  # noqa: S608
    return [_event(row) for row in conn.execute(sql, args)]


def by_ids(conn: Connection, ids: Sequence[int]) -> list[Event]:
    """These events (those still stored), in id order."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    sql = f"SELECT * FROM inbox_events WHERE id IN ({marks}) ORDER BY id"  # noqa: S608
    return [_event(row) for row in conn.execute(sql, list(ids))]


def count(conn: Connection, *, phone: str | None = None, unread_only: bool = False) -> int:
    where = ["1=1"]
    args: list[object] = []
    if phone is not None:
        where.append("phone = ?")
        args.append(phone)
    if unread_only:
        where.append("handled_at IS NULL")
    sql = f"SELECT COUNT(*) FROM inbox_events WHERE {' AND '.join(where)}"  # noqa: S608
    return int(conn.execute(sql, args).fetchone()[0])


def mark_handled(
    conn: Connection,
    *,
    ids: Sequence[int] = (),
    up_to: int | None = None,
    phone: str | None = None,
    at: datetime,
) -> int:
    """Mark events handled: the listed ids, and/or every event up to ``up_to`` (optionally of one phone)."""
    changed = 0
    stamp = iso(at)
    if ids:
        marks = ",".join("?" * len(ids))
        sql = f"UPDATE inbox_events SET handled_at = ? WHERE handled_at IS NULL AND id IN ({marks})"  # noqa: S608
        args: list[object] = [stamp, *ids]
        if phone is not None:
            sql += " AND phone = ?"
            args.append(phone)
        changed += conn.execute(sql, args).rowcount
    if up_to is not None:
        sql = "UPDATE inbox_events SET handled_at = ? WHERE handled_at IS NULL AND id <= ?"
        args = [stamp, up_to]
        if phone is not None:
            sql += " AND phone = ?"
            args.append(phone)
        changed += conn.execute(sql, args).rowcount
    return changed


def phone_for_token(conn: Connection, token: str) -> str | None:
    state = contacts.get_state(conn, token=token)
    if state is not None:
        return state.phone
    row = conn.execute("SELECT phone FROM inbox_events WHERE token = ? LIMIT 1", (token,)).fetchone()
    return str(row[0]) if row else None


def link(conn: Connection, *, phone: str, token: str) -> int:
    """Attach a contact token to a phone: its stored events and its contact state. Returns events linked."""
    conn.execute(
        """INSERT INTO contact_state (phone, token) VALUES (?, ?)
           ON CONFLICT(phone) DO UPDATE SET token = excluded.token""",
        (phone, token),
    )
    return conn.execute(
        "UPDATE inbox_events SET token = ? WHERE phone = ? AND (token IS NULL OR token != ?)", (token, phone, token)
    ).rowcount


def prune(conn: Connection, *, before: datetime, batch: int = 5000) -> int:
    """Delete up to ``batch`` events received before ``before`` (call again while it returns ``batch``)."""
    return conn.execute(
        "DELETE FROM inbox_events WHERE id IN (SELECT id FROM inbox_events WHERE received_at < ? LIMIT ?)",
        (iso(before), batch),
    ).rowcount


# -- the reads and writes of one inbox operation, each in one transaction -----------------------


@dataclass(frozen=True)
class Page:
    events: list[Event]
    unread: int  # unhandled events in total (of the phone, when one is given)


def page(
    conn: Connection,
    *,
    since: int,
    phone: str | None,
    unread_only: bool,
    limit: int,
    newest_first: bool = False,
) -> Page:
    found = list_events(conn, since=since, phone=phone, unread_only=unread_only, limit=limit, newest_first=newest_first)
    return Page(found, count(conn, phone=phone, unread_only=True))


@dataclass(frozen=True)
class Summary:
    latest_unread: list[Event]  # newest first
    unread: int
    stored: int
    cursor: int


def summary(conn: Connection, *, recent: int) -> Summary:
    latest = list_events(conn, unread_only=True, limit=recent, newest_first=True)
    return Summary(latest, count(conn, unread_only=True), count(conn), latest_id(conn))


@dataclass(frozen=True)
class Marked:
    marked: int
    known: set[int]  # of the ids asked about, those stored
    unread: int


def mark(conn: Connection, *, ids: Sequence[int], up_to: int | None, phone: str | None, at: datetime) -> Marked:
    known = existing(conn, "inbox_events", "id", ids)
    marked = mark_handled(conn, ids=ids, up_to=up_to, phone=phone, at=at)
    return Marked(marked, known, count(conn, phone=phone, unread_only=True))
