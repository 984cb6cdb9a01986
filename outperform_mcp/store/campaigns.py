"""Campaigns: a name for one or more approved batches, so sends and their replies can be followed.

A template batch always belongs to a campaign (named by the caller, else after the template and
the time); naming an existing campaign adds the batch to it. The link lives beside the send
journal (``campaign_approvals``) so the journal itself stays as it is.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .db import Connection, iso
from .inbox import latest_id
from .journal import SendRecord
from .replies import cursor_before, reply_cursor_for_batch


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> Campaign:
        return cls(row["id"], row["name"], datetime.fromisoformat(row["created_at"]))


def of_approval(conn: Connection, approval_id: str) -> Campaign | None:
    row = conn.execute(
        "SELECT c.* FROM campaigns c JOIN campaign_approvals a ON a.campaign_id = c.id WHERE a.approval_id = ?",
        (approval_id,),
    ).fetchone()
    return Campaign.of(row) if row else None


def find(conn: Connection, key: str) -> Campaign | None:
    """A campaign by id or by name (names match whatever their case)."""
    row = conn.execute("SELECT * FROM campaigns WHERE id = ? OR lower(name) = lower(?)", (key, key)).fetchone()
    return Campaign.of(row) if row else None


def attach(conn: Connection, approval_id: str, *, name: str | None, default_name: str, at: datetime) -> Campaign:
    """Put a batch into the campaign ``name`` (created if new), or into a new one named after
    ``default_name``. A batch already in a campaign stays there (a retried call attaches again)."""
    current = of_approval(conn, approval_id)
    if current is not None:
        return current
    campaign = find(conn, name) if name else None
    if campaign is None:
        wanted = name or default_name
        chosen, n = wanted, 1
        while not name and find(conn, chosen) is not None:
            n += 1
            chosen = f"{wanted} #{n}"
        campaign = Campaign("cmp_" + secrets.token_hex(4), chosen, at)
        conn.execute(
            "INSERT INTO campaigns (id, name, created_at) VALUES (?, ?, ?)",
            (campaign.id, campaign.name, iso(at)),
        )
    conn.execute(
        "INSERT INTO campaign_approvals (approval_id, campaign_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        (approval_id, campaign.id),
    )
    return campaign


def recent(conn: Connection, limit: int) -> list[Campaign]:
    rows = conn.execute("SELECT * FROM campaigns ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,))
    return [Campaign.of(r) for r in rows]


def sends(conn: Connection, campaign_id: str) -> list[SendRecord]:
    """Every message of the campaign's batches, oldest first."""
    rows = conn.execute(
        """SELECT s.* FROM sends s JOIN campaign_approvals a ON a.approval_id = s.approval_id
           WHERE a.campaign_id = ? ORDER BY s.id""",
        (campaign_id,),
    )
    return [SendRecord.of(r) for r in rows]


@dataclass(frozen=True)
class Loaded:
    campaign: Campaign
    rows: list[SendRecord]
    cursor: int  # the inbox cursor just before its first message went out (else now)


def load(conn: Connection, key: str) -> Loaded | None:
    campaign = find(conn, key)
    if campaign is None:
        return None
    rows = sends(conn, campaign.id)
    first = min((r.sending_at for r in rows if r.sending_at), default=None)
    return Loaded(campaign, rows, cursor_before(conn, first) if first else latest_id(conn))


def created_between(conn: Connection, start: datetime, end: datetime) -> list[Loaded]:
    """Every campaign created in [start, end), oldest first, with its sends."""
    rows = conn.execute(
        "SELECT id FROM campaigns WHERE created_at >= ? AND created_at < ? ORDER BY created_at, id",
        (iso(start), iso(end)),
    ).fetchall()
    return [found for r in rows if (found := load(conn, r[0])) is not None]


def recent_with_sends(conn: Connection, limit: int) -> list[tuple[Campaign, list[SendRecord]]]:
    return [(c, sends(conn, c.id)) for c in recent(conn, limit)]


def tracking(conn: Connection, approval_id: str | None) -> tuple[Campaign | None, int]:
    """The campaign of a batch and the inbox cursor to wait for its replies from."""
    if approval_id is None:
        return None, latest_id(conn)
    return of_approval(conn, approval_id), reply_cursor_for_batch(conn, approval_id)
