"""What the server knows locally about each contact: last inbound message and opt-out.

Written by the inbox (every inbound event) and read by the sending guard (24-hour rule, opt-out),
so a reply opens the window and a "STOP" blocks sends before the API is even asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .db import Connection, iso, moment
from .optout import OptOutRules


def is_opt_out(text: str, rules: OptOutRules) -> bool:
    """True for messages that ask to stop receiving messages (STOP, unsubscribe and the like)."""
    return rules.matches(text)


@dataclass(frozen=True)
class ContactState:
    phone: str
    token: str | None
    last_inbound_at: datetime | None
    opted_out_at: datetime | None
    opt_out_text: str | None


def _row(row: Any) -> ContactState | None:
    if row is None:
        return None

    return ContactState(
        row["phone"], row["token"], moment(row["last_inbound_at"]), moment(row["opted_out_at"]), row["opt_out_text"]
    )


def record_inbound(
    conn: Connection,
    *,
    phone: str,
    at: datetime,
    text: str,
    rules: OptOutRules,
    token: str | None = None,
) -> ContactState:
    """Note an inbound message: moves the window forward, opts out on STOP-like text."""
    conn.execute(
        """INSERT INTO contact_state (phone, token, last_inbound_at) VALUES (?, ?, ?)
           ON CONFLICT(phone) DO UPDATE SET
             token = COALESCE(excluded.token, contact_state.token),
             last_inbound_at = CASE WHEN contact_state.last_inbound_at IS NULL
                 OR contact_state.last_inbound_at < excluded.last_inbound_at
               THEN excluded.last_inbound_at ELSE contact_state.last_inbound_at END""",
        (phone, token, iso(at)),
    )
    if is_opt_out(text, rules):
        conn.execute(
            "UPDATE contact_state SET opted_out_at = ?, opt_out_text = ? WHERE phone = ? AND opted_out_at IS NULL",
            (iso(at), text[:200], phone),
        )
    state = get_state(conn, phone=phone)
    assert state is not None
    return state


def get_state(conn: Connection, *, phone: str | None = None, token: str | None = None) -> ContactState | None:
    if phone:
        return _row(conn.execute("SELECT * FROM contact_state WHERE phone = ?", (phone,)).fetchone())
    if token:
        return _row(conn.execute("SELECT * FROM contact_state WHERE token = ?", (token,)).fetchone())
    return None


def remember_created(conn: Connection, *, token: str, phone: str) -> None:
    """A contact this server created: found again by its number, whatever the API's search does with tokens."""
    conn.execute(
        """INSERT INTO created_contacts (token, phone) VALUES (?, ?)
           ON CONFLICT (token) DO UPDATE SET phone = excluded.phone""",
        (token, phone),
    )


def created_phone(conn: Connection, token: str) -> str | None:
    row = conn.execute("SELECT phone FROM created_contacts WHERE token = ?", (token,)).fetchone()
    return str(row["phone"]) if row else None
