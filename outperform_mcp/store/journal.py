"""The send journal: every approval and every message, written before anything goes out.

Two tables. ``send_approvals`` holds one human decision (or host commit) for a batch, bound to the
payload digest and to the client that asked. ``sends`` holds one row per message, moving through
``prepared → approved → sending → sent | failed | unknown`` (or ``rejected``/``expired``/``refused``,
never sent). Every transition that matters is a conditional UPDATE, so two racing commits cannot
both win, and ``sending`` is committed before the HTTP request leaves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .db import Connection, iso, moment

# Statuses in which a message may have reached the customer: they count toward quotas and repeats.
WENT_OUT = ("sending", "sent", "unknown")
FINAL = ("sent", "failed", "unknown", "rejected", "expired", "refused")


@dataclass(frozen=True)
class ApprovalRecord:
    id: str
    client: str
    digest: str
    kind: str
    channel: str
    status: str
    secret_hash: str | None
    allowed_because: list[str]
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    note: str | None

    @classmethod
    def of(cls, row: Any) -> ApprovalRecord:
        created, expires = moment(row["created_at"]), moment(row["expires_at"])
        assert created is not None
        assert expires is not None
        return cls(
            row["id"],
            row["client"],
            row["digest"],
            row["kind"],
            row["channel"],
            row["status"],
            row["secret_hash"],
            json.loads(row["allowed_because"]),
            created,
            expires,
            moment(row["decided_at"]),
            row["decided_by"],
            row["note"],
        )


@dataclass(frozen=True)
class SendRecord:
    id: int
    approval_id: str
    seq: int
    token: str
    name: str
    phone: str
    kind: str
    text: str
    template: str | None
    params: list[str]
    instance_id: str | None
    content_key: str
    repeat_of: int | None
    status: str
    message_id: str | None
    error: str | None
    created_at: datetime
    sending_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> SendRecord:
        created = moment(row["created_at"])
        assert created is not None
        return cls(
            row["id"],
            row["approval_id"],
            row["seq"],
            row["token"],
            row["name"],
            row["phone"],
            row["kind"],
            row["text"],
            row["template"],
            json.loads(row["params"]),
            row["instance_id"],
            row["content_key"],
            row["repeat_of"],
            row["status"],
            row["message_id"],
            row["error"],
            created,
            moment(row["sending_at"]),
            moment(row["finished_at"]),
        )


@dataclass(frozen=True)
class NewSend:
    seq: int
    token: str
    name: str
    phone: str
    kind: str
    text: str
    template: str | None
    params: Sequence[str]
    instance_id: str | None
    content_key: str
    repeat_of: int | None


# -- approvals -------------------------------------------------------------------------------


def insert_approval(
    conn: Connection,
    *,
    approval_id: str,
    client: str,
    digest: str,
    kind: str,
    channel: str,
    status: str,
    allowed_because: Iterable[str],
    created_at: datetime,
    expires_at: datetime,
    sends: Iterable[NewSend],
    send_status: str,
    decided_by: str | None = None,
) -> None:
    decided_at = iso(created_at) if decided_by else None
    conn.execute(
        """INSERT INTO send_approvals (id, client, digest, kind, channel, status, allowed_because,
               created_at, expires_at, decided_at, decided_by)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            approval_id,
            client,
            digest,
            kind,
            channel,
            status,
            json.dumps(list(allowed_because)),
            iso(created_at),
            iso(expires_at),
            decided_at,
            decided_by,
        ),
    )
    conn.executemany(
        """INSERT INTO sends (approval_id, seq, token, name, phone, kind, text, template, params, instance_id,
               content_key, repeat_of, status, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            (
                approval_id,
                s.seq,
                s.token,
                s.name,
                s.phone,
                s.kind,
                s.text,
                s.template,
                json.dumps(list(s.params)),
                s.instance_id,
                s.content_key,
                s.repeat_of,
                send_status,
                iso(created_at),
            )
            for s in sends
        ],
    )


def get_approval(conn: Connection, approval_id: str) -> ApprovalRecord | None:
    row = conn.execute("SELECT * FROM send_approvals WHERE id = ?", (approval_id,)).fetchone()
    return ApprovalRecord.of(row) if row else None


def latest_approval(conn: Connection, *, digest: str, client: str) -> ApprovalRecord | None:
    row = conn.execute(
        "SELECT * FROM send_approvals WHERE digest = ? AND client = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
        (digest, client),
    ).fetchone()
    return ApprovalRecord.of(row) if row else None


def set_channel(conn: Connection, approval_id: str, channel: str) -> None:
    conn.execute("UPDATE send_approvals SET channel = ? WHERE id = ?", (channel, approval_id))


def set_secret_hash(conn: Connection, approval_id: str, secret_hash: str) -> None:
    conn.execute("UPDATE send_approvals SET secret_hash = ? WHERE id = ?", (secret_hash, approval_id))


def transition(
    conn: Connection,
    approval_id: str,
    *,
    from_status: str,
    to_status: str,
    at: datetime,
    by: str | None = None,
    note: str | None = None,
    send_status: str | None = None,
) -> bool:
    """Move an approval (and its still-waiting messages) on, only if it is still in ``from_status``."""
    cur = conn.execute(
        """UPDATE send_approvals SET status = ?, decided_at = COALESCE(decided_at, ?),
               decided_by = COALESCE(?, decided_by), note = COALESCE(?, note)
           WHERE id = ? AND status = ?""",
        (to_status, iso(at), by, note, approval_id, from_status),
    )
    if cur.rowcount != 1:
        return False
    if send_status is not None:
        conn.execute(
            """UPDATE sends SET status = ?, error = COALESCE(?, error),
                   finished_at = CASE WHEN ? IN ('rejected', 'expired', 'refused') THEN ? ELSE finished_at END
               WHERE approval_id = ? AND status IN ('prepared', 'approved')""",
            (send_status, note if send_status == "refused" else None, send_status, iso(at), approval_id),
        )
    return True


def expire_stale(conn: Connection, now: datetime) -> int:
    """Pending or approved-but-unused approvals past their expiry: expired, their messages never sent."""
    stale = [
        r["id"]
        for r in conn.execute(
            "SELECT id FROM send_approvals WHERE status IN ('pending', 'approved') AND expires_at <= ?", (iso(now),)
        )
    ]
    for approval_id in stale:
        for status in ("pending", "approved"):
            transition(
                conn,
                approval_id,
                from_status=status,
                to_status="expired",
                at=now,
                note="the approval expired before it was used",
                send_status="expired",
            )
    return len(stale)


# -- messages --------------------------------------------------------------------------------


def sends_of(conn: Connection, approval_id: str) -> list[SendRecord]:
    rows = conn.execute("SELECT * FROM sends WHERE approval_id = ? ORDER BY seq", (approval_id,))
    return [SendRecord.of(r) for r in rows]


def claim_rows(conn: Connection, approval_id: str, owner: str) -> None:
    """Record which process took the approved messages of a used approval, so recovery settles them
    only if that process is gone."""
    conn.execute("UPDATE sends SET owner = ? WHERE approval_id = ? AND status = 'approved'", (owner, approval_id))


def mark_sending(conn: Connection, send_id: int, at: datetime, owner: str | None = None) -> bool:
    """The one gate before the HTTP request: only an approved row can become 'sending', once."""
    cur = conn.execute(
        "UPDATE sends SET status = 'sending', sending_at = ?, owner = COALESCE(?, owner) "
        "WHERE id = ? AND status = 'approved'",
        (iso(at), owner, send_id),
    )
    return cur.rowcount == 1


def abandon(conn: Connection, send_id: int, at: datetime, error: str) -> bool:
    """A message this process claimed (maybe marked 'sending') but never handed to the API: not sent."""
    cur = conn.execute(
        """UPDATE sends SET status = 'failed', error = ?, finished_at = ?
           WHERE id = ? AND status IN ('approved', 'sending')""",
        (error, iso(at), send_id),
    )
    return cur.rowcount == 1


def finish(
    conn: Connection,
    send_id: int,
    *,
    status: str,
    at: datetime,
    message_id: str | None = None,
    error: str | None = None,
) -> None:
    conn.execute(
        "UPDATE sends SET status = ?, message_id = ?, error = ?, finished_at = ? WHERE id = ? AND status = 'sending'",
        (status, message_id, error, iso(at), send_id),
    )


@dataclass(frozen=True)
class Usage:
    """Messages that went out (or may have) in the rolling hour and day: what quotas count."""

    last_hour: int
    last_day: int


def usage(conn: Connection, now: datetime) -> Usage:
    return Usage(went_out_since(conn, now - timedelta(hours=1)), went_out_since(conn, now - timedelta(days=1)))


def went_out_since(conn: Connection, since: datetime) -> int:
    """Messages that went out (or may have) since ``since``, plus those claimed by a commit in progress."""
    row = conn.execute(
        """SELECT COUNT(*) FROM sends
           WHERE (status IN ('sending', 'sent', 'unknown') AND sending_at >= ?)
              OR (status = 'approved' AND approval_id IN (SELECT id FROM send_approvals WHERE status = 'used'))""",
        (iso(since),),
    ).fetchone()
    return int(row[0])


def last_same_message(
    conn: Connection, content_key: str, since: datetime, *, exclude_approval: str | None = None
) -> SendRecord | None:
    """The latest send of the same content to the same contact that went out (or may have) since ``since``,
    or that is approved and about to."""
    row = conn.execute(
        """SELECT * FROM sends WHERE content_key = ? AND approval_id != ?
             AND ((status IN ('sending', 'sent', 'unknown') AND sending_at >= ?) OR status = 'approved')
           ORDER BY COALESCE(sending_at, created_at) DESC LIMIT 1""",
        (content_key, exclude_approval or "", iso(since)),
    ).fetchone()
    return SendRecord.of(row) if row else None


def list_sends(
    conn: Connection,
    *,
    statuses: Sequence[str] = (),
    token: str | None = None,
    approval_id: str | None = None,
    limit: int = 20,
) -> list[tuple[SendRecord, ApprovalRecord]]:
    where: list[str] = []
    args: list[object] = []
    if statuses:
        where.append(f"s.status IN ({','.join('?' * len(statuses))})")
        args.extend(statuses)
    if token:
        where.append("s.token = ?")
        args.append(token)
    if approval_id:
        where.append("s.approval_id = ?")
        args.append(approval_id)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(
        f"""SELECT s.*, a.id AS a_id FROM sends s JOIN send_approvals a ON a.id = s.approval_id {clause}
            ORDER BY s.id DESC LIMIT ?""",  # noqa: S608 - the clause holds placeholders only
        (*args, limit),
    ).fetchall()
    approvals: dict[str, ApprovalRecord] = {}
    out = []
    for row in rows:
        approval = approvals.get(row["a_id"])
        if approval is None:
            approval = get_approval(conn, row["a_id"])
            assert approval is not None
            approvals[row["a_id"]] = approval
        out.append((SendRecord.of(row), approval))
    return out


@dataclass(frozen=True)
class Recovery:
    unknown: int  # were 'sending' when the process died: outcome unknown, never retried
    not_sent: int  # claimed but never reached 'sending': certainly not sent


# Rows whose owner is not a live process (no unexpired 'replica:' lease, see store.leases).
_ORPHANED = """(owner IS NULL OR owner NOT IN
                 (SELECT holder FROM leases WHERE name LIKE 'replica:%' AND expires_at > ?))"""


def recover(conn: Connection, now: datetime, *, shared: bool = False) -> Recovery:
    """Settle rows a process that is gone left mid-way. Sends nothing.

    A private store (SQLite) is used by this process alone, so at start every such row is orphaned;
    a shared one settles only the rows of processes whose heartbeat lease has run out."""
    orphaned = _ORPHANED if shared else "1 = 1"
    owners = (iso(now),) if shared else ()
    unknown = conn.execute(
        f"""UPDATE sends SET status = 'unknown', finished_at = ?,
               error = 'the server stopped while this message was being sent; check the conversation'
           WHERE status = 'sending' AND {orphaned}""",  # noqa: S608 - a constant clause
        (iso(now), *owners),
    ).rowcount
    not_sent = conn.execute(
        f"""UPDATE sends SET status = 'failed', finished_at = ?,
               error = 'not sent: the server stopped before sending it'
           WHERE status = 'approved' AND approval_id IN (SELECT id FROM send_approvals WHERE status = 'used')
             AND {orphaned}""",  # noqa: S608 - a constant clause
        (iso(now), *owners),
    ).rowcount
    return Recovery(unknown=unknown, not_sent=not_sent)
