"""Reply tracking: inbox cursors tied to sends, so "replies after this send" never misses one.

The inbox cursor (event id) grows in commit order and every event records when this server
committed it (``received_at``), so the cursor "just before a send" is the last event committed
before the send went out: waiting from there returns a reply that came in after the send even
if it came in before anyone started waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .contacts import get_state
from .db import Connection, iso
from .inbox import latest_id
from .journal import WENT_OUT


def cursor_before(conn: Connection, moment: datetime) -> int:
    """The inbox cursor as it stood just before ``moment``."""
    row = conn.execute("SELECT MAX(id) FROM inbox_events WHERE received_at < ?", (iso(moment),)).fetchone()
    return int(row[0] or 0)


def replies_since(conn: Connection, phone: str, moment: datetime) -> list[tuple[datetime, bool]]:
    """(received_at, opt_out) of every stored message from ``phone`` (its E.164 key, see phones.py)
    that came in at or after ``moment``."""
    rows = conn.execute(
        "SELECT received_at, opt_out FROM inbox_events WHERE phone = ? AND received_at >= ? ORDER BY id",
        (phone, iso(moment)),
    )
    return [(datetime.fromisoformat(r[0]), bool(r[1])) for r in rows]


def last_went_out_at(conn: Connection, token: str) -> datetime | None:
    """When the latest message to this contact went out (or may have)."""
    marks = ",".join("?" * len(WENT_OUT))
    row = conn.execute(
        f"SELECT MAX(sending_at) FROM sends WHERE token = ? AND status IN ({marks})",  # noqa: S608
        (token, *WENT_OUT),
    ).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def batch_went_out_at(conn: Connection, approval_id: str) -> datetime | None:
    row = conn.execute("SELECT MIN(sending_at) FROM sends WHERE approval_id = ?", (approval_id,)).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def reply_cursor_for_contact(conn: Connection, token: str) -> int:
    """Where to wait for this contact's reply from: just before our last message to them, else now."""
    sent_at = last_went_out_at(conn, token)
    return cursor_before(conn, sent_at) if sent_at else latest_id(conn)


def reply_cursor_for_batch(conn: Connection, approval_id: str) -> int:
    """Where to wait for replies to this batch from: just before its first message went out, else now."""
    sent_at = batch_went_out_at(conn, approval_id)
    return cursor_before(conn, sent_at) if sent_at else latest_id(conn)


@dataclass(frozen=True)
class InboxFacts:
    replies: list[tuple[datetime, bool]]  # (received_at, opt_out) since the moment asked about
    opted_out_at: datetime | None  # from the contact's state, if at or after that moment


def inbox_facts(conn: Connection, wanted: list[tuple[str, datetime]]) -> list[InboxFacts]:
    """For each (phone key, moment): the messages that came in since, and an opt-out since."""
    out = []
    for phone, since in wanted:
        state = get_state(conn, phone=phone)
        opted = state.opted_out_at if state and state.opted_out_at and state.opted_out_at >= since else None
        out.append(InboxFacts(replies_since(conn, phone, since), opted))
    return out
