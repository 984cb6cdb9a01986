"""The local mirror of the account: contacts, labels, messages, chatbot sessions, sync checkpoints.

Written by the sync engine (``outperform_mcp.mirror``) page by page, each page in one transaction
together with its checkpoint, so a crash never loses a stored page nor re-fetches one. Inbound
webhook events and this server's own sends are folded in from their tables (``absorb_local``) as
provisional rows, which the API's copy of the same message later replaces.

Times are INTEGER Unix seconds (UTC): the API gives seconds, and arithmetic on them is what the
reports do. The documented views (``VIEWS``) show them as ISO text. Full-text search is dialect
specific and lives in ``mirror_fts``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from .db import Connection
from .optout import OptOutRules

if TYPE_CHECKING:
    from ..api import models as api  # only annotations here (see api/client.py)

KINDS = ("labels", "contacts", "conversations", "chatbot")
T = TypeVar("T")
# A provisional copy (webhook, own send) and the API's copy are one message when this close.
SAME_MESSAGE_S = 300
# Sends are absorbed again this far back, so one that turned 'sent' late is not missed.
SEND_RESCAN_S = 3600


def _digits(phone: str) -> str:
    """The API's numbers are E.164 digits already (assumption); separators are dropped to be sure."""
    return re.sub(r"\D", "", phone)


def epoch(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())


def iso(seconds: int | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def api_key(token: str, at: int, direction: str, text: str) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{token}|{at}|{direction[0]}|{digest}"


# -- checkpoints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncState:
    kind: str
    complete: bool
    next_page: int
    run_started_at: int | None
    watermark: int | None
    items: int
    calls: int
    error: str | None


def sync_state(conn: Connection, kind: str) -> SyncState:
    row = conn.execute("SELECT * FROM mirror_sync WHERE kind = ?", (kind,)).fetchone()
    if row is None:
        return SyncState(kind, False, 1, None, None, 0, 0, None)
    return SyncState(
        kind,
        bool(row["complete"]),
        row["next_page"],
        row["run_started_at"],
        row["watermark"],
        row["items"],
        row["calls"],
        row["error"],
    )


def all_states(conn: Connection) -> dict[str, SyncState]:
    return {kind: sync_state(conn, kind) for kind in KINDS}


def save_state(conn: Connection, state: SyncState) -> None:
    conn.execute(
        """INSERT INTO mirror_sync (kind, complete, next_page, run_started_at, watermark, items, calls, error)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(kind) DO UPDATE SET complete = excluded.complete, next_page = excluded.next_page,
             run_started_at = excluded.run_started_at, watermark = excluded.watermark, items = excluded.items,
             calls = excluded.calls, error = excluded.error""",
        (
            state.kind,
            int(state.complete),
            state.next_page,
            state.run_started_at,
            state.watermark,
            state.items,
            state.calls,
            state.error,
        ),
    )


@dataclass(frozen=True)
class Freshness:
    as_of: int | None  # every kind is stored up to at least this moment (None: never fully synced)
    complete: bool  # the initial sync of every kind finished

    @property
    def note(self) -> str | None:
        if self.complete:
            return None
        return "the mirror is still being filled by its first sync: answers may miss data (see sync status)"


def freshness(conn: Connection) -> Freshness:
    states = all_states(conn).values()
    marks = [s.watermark for s in states]
    as_of = None if any(m is None for m in marks) else min(m for m in marks if m is not None)
    return Freshness(as_of, all(s.complete for s in states))


# -- writes from the API ---------------------------------------------------------------------


def upsert_labels(conn: Connection, labels: Sequence[api.Label]) -> None:
    conn.execute("DELETE FROM mirror_labels")
    conn.executemany(
        "INSERT INTO mirror_labels (name, contacts) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET contacts = excluded.contacts",
        [(label.name, label.contacts) for label in labels],
    )


def upsert_contacts(conn: Connection, items: Sequence[api.Contact], now: int) -> None:
    conn.executemany(
        """INSERT INTO mirror_contacts (token, name, phone, email, created_at, synced_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT(token) DO UPDATE SET name = excluded.name, phone = excluded.phone, email = excluded.email,
             created_at = excluded.created_at, synced_at = excluded.synced_at""",
        [
            (
                c.token,
                c.name,
                _digits(c.phone),
                c.email,
                epoch(c.created_at) if c.created_at else None,
                now,
            )
            for c in items
        ],
    )
    tokens = [c.token for c in items]
    conn.executemany("DELETE FROM mirror_contact_labels WHERE token = ?", [(t,) for t in tokens])
    conn.executemany(
        "INSERT INTO mirror_contact_labels (label, token) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(label, c.token) for c in items for label in c.labels],
    )


def _provisional_match(conn: Connection, token: str, at: int, direction: str, text: str) -> int | None:
    row = conn.execute(
        """SELECT id FROM mirror_messages
           WHERE token = ? AND at BETWEEN ? AND ? AND direction = ? AND source != 'api'
             AND (text = ? OR (source = 'send' AND type = 'template'))
           ORDER BY ABS(at - ?) LIMIT 1""",
        (token, at - SAME_MESSAGE_S, at + SAME_MESSAGE_S, direction, text, at),
    ).fetchone()
    return int(row[0]) if row else None


def _has_provisional(conn: Connection) -> bool:
    return conn.execute("SELECT 1 FROM mirror_messages WHERE source != 'api' LIMIT 1").fetchone() is not None


def upsert_conversations(conn: Connection, threads: Sequence[api.Conversation], rules: OptOutRules) -> int:
    """Store the threads' messages (a thread may hold only a date range of them); returns new messages."""
    provisional = _has_provisional(conn)
    touched: set[str] = set()
    # One read of what is stored and one insert for the whole page, not one of each per thread: on
    # PostgreSQL each statement is a round trip, and a page holds up to a hundred threads.
    known = _stored_keys(conn, [t.token for t in threads])
    inserts: list[tuple[Any, ...]] = []
    for thread in threads:
        stored = known.setdefault(thread.token, set())
        rows = []
        for m in thread.messages:
            at = epoch(m.timestamp)
            key = api_key(thread.token, at, m.direction, m.text)
            if key in stored:
                continue
            stored.add(key)
            opt_out = int(m.direction == "inbound" and rules.matches(m.text))
            match = _provisional_match(conn, thread.token, at, m.direction, m.text) if provisional else None
            if match is not None:
                conn.execute(
                    """UPDATE mirror_messages SET at = ?, text = ?, source = 'api', api_key = ?, opt_out = ?,
                         type = CASE WHEN type = 'template' THEN type ELSE ? END WHERE id = ?""",
                    (at, m.text, key, opt_out, m.type, match),
                )
            else:
                rows.append((thread.token, at, m.direction, m.type, m.text, key, opt_out))
            touched.add(thread.token)
        facts: list[tuple[int, int | None]] = [(0, None)] * len(rows)
        if len(rows) == len(stored):  # a thread new to the mirror: its turn facts now, not in a second pass
            rows.sort(key=lambda r: r[1])
            facts = [(int(t.turn_start), t.answered_at) for t in turns([(r[1], r[2]) for r in rows])]
        inserts += [(*row, *fact) for row, fact in zip(rows, facts, strict=True)]
    conn.executemany(
        """INSERT INTO mirror_messages (token, at, direction, type, text, source, api_key, opt_out, turn_start,
             answered_at) VALUES (?, ?, ?, ?, ?, 'api', ?, ?, ?, ?)""",
        inserts,
    )
    refresh_threads(conn, touched)
    return len(inserts)


def _stored_keys(conn: Connection, tokens: list[str]) -> dict[str, set[str]]:
    """The API keys of the messages stored for these threads, by thread (a page's worth of tokens)."""
    out: dict[str, set[str]] = {}
    if not tokens:
        return out
    marks = ", ".join("?" * len(tokens))
    for token, key in conn.execute(f"SELECT token, api_key FROM mirror_messages WHERE token IN ({marks})", tokens):  # noqa: S608 - placeholders only
        out.setdefault(token, set()).add(key)
    return out


def upsert_chatbot(conn: Connection, sessions: Sequence[api.ChatbotConversation]) -> None:
    for s in sessions:
        conn.execute(
            """INSERT INTO mirror_chatbot (id, token, name, phone, sentiment, concluded, started_at, ended_at,
                 summary, messages) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(id) DO UPDATE SET token = excluded.token, name = excluded.name, phone = excluded.phone,
                 sentiment = excluded.sentiment, concluded = excluded.concluded, started_at = excluded.started_at,
                 ended_at = excluded.ended_at, summary = excluded.summary, messages = excluded.messages""",
            (
                s.id,
                s.token,
                s.name,
                s.phone,
                s.sentiment,
                int(s.concluded),
                epoch(s.started_at) if s.started_at else None,
                epoch(s.ended_at) if s.ended_at else None,
                s.summary,
                len(s.messages),
            ),
        )
        conn.execute("DELETE FROM mirror_chatbot_messages WHERE session_id = ?", (s.id,))
        conn.executemany(
            "INSERT INTO mirror_chatbot_messages (session_id, seq, at, direction, text) VALUES (?, ?, ?, ?, ?)",
            [(s.id, i, epoch(m.timestamp), m.direction, m.text) for i, m in enumerate(s.messages)],
        )


# -- derived thread state --------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """Per-message facts the reports need, computed from one thread in time order."""

    turn_start: bool
    answered_at: int | None


def turns(messages: Sequence[tuple[int, str]]) -> list[Turn]:
    """For (at, direction) pairs in time order: whether each starts a run from its side, and when
    the other side first wrote after it."""
    out: list[Turn] = []
    next_at: dict[str, int | None] = {"inbound": None, "outbound": None}
    answered: list[int | None] = [None] * len(messages)
    for i in range(len(messages) - 1, -1, -1):
        at, direction = messages[i]
        answered[i] = next_at["outbound" if direction == "inbound" else "inbound"]
        next_at[direction] = at
    previous: str | None = None
    for i, (_, direction) in enumerate(messages):
        out.append(Turn(direction != previous, answered[i]))
        previous = direction
    return out


def refresh_threads(conn: Connection, tokens: Iterable[str]) -> None:
    """Recompute per-message turn facts and the thread summary of these contacts.

    A handful of statements per chunk of threads (one read, one update, one delete, one insert),
    not four per thread: on PostgreSQL each statement is a round trip."""
    wanted = sorted(set(tokens))
    for start in range(0, len(wanted), _CHUNK):
        _refresh_some(conn, wanted[start : start + _CHUNK])


_CHUNK = 500  # tokens per statement: well inside SQLite's and PostgreSQL's limits on parameters


def _refresh_some(conn: Connection, wanted: list[str]) -> None:
    marks = ", ".join("?" * len(wanted))
    by_token: dict[str, list[Any]] = {}
    for r in conn.execute(
        "SELECT token, id, at, direction, turn_start, answered_at, opt_out FROM mirror_messages "  # noqa: S608
        f"WHERE token IN ({marks}) ORDER BY token, at, id",
        wanted,
    ):
        by_token.setdefault(r["token"], []).append(r)
    changed: list[tuple[int, int | None, int]] = []
    summaries: list[tuple[Any, ...]] = []
    for token, rows in by_token.items():
        facts = turns([(r["at"], r["direction"]) for r in rows])
        changed += [
            (int(f.turn_start), f.answered_at, r["id"])
            for r, f in zip(rows, facts, strict=True)
            if (bool(r["turn_start"]), r["answered_at"]) != (f.turn_start, f.answered_at)
        ]
        inbound = [r["at"] for r in rows if r["direction"] == "inbound"]
        outbound = [r["at"] for r in rows if r["direction"] == "outbound"]
        last = rows[-1]
        awaiting = None
        if last["direction"] == "inbound":
            awaiting = last["at"]
            for r in reversed(rows):
                if r["direction"] != "inbound":
                    break
                awaiting = r["at"]
        opted = [r["at"] for r in rows if r["opt_out"]]
        summaries.append(
            (
                token,
                len(rows),
                len(inbound),
                len(outbound),
                rows[0]["at"],
                last["at"],
                last["direction"],
                max(inbound) if inbound else None,
                max(outbound) if outbound else None,
                awaiting,
                max(opted) if opted else None,
            )
        )
    conn.executemany("UPDATE mirror_messages SET turn_start = ?, answered_at = ? WHERE id = ?", changed)
    # A thread with no message left has no summary either.
    conn.execute(f"DELETE FROM mirror_threads WHERE token IN ({marks})", wanted)  # noqa: S608
    conn.executemany("INSERT INTO mirror_threads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", summaries)


# -- what the server knows first-hand --------------------------------------------------------


def _cursor(conn: Connection, source: str, default: str) -> str:
    row = conn.execute("SELECT position FROM mirror_cursor WHERE source = ?", (source,)).fetchone()
    return str(row[0]) if row else default


def _set_cursor(conn: Connection, source: str, position: str) -> None:
    conn.execute(
        "INSERT INTO mirror_cursor (source, position) VALUES (?, ?) "
        "ON CONFLICT(source) DO UPDATE SET position = excluded.position",
        (source, position),
    )


def absorb_local(conn: Connection) -> int:
    """Fold new inbound webhook events and successful sends into the mirror; returns rows added.

    Cheap when nothing is new (two indexed range reads), so every mirror read runs it first.
    """
    touched: set[str] = set()
    added = 0
    since = int(_cursor(conn, "inbox", "0"))
    rows = conn.execute(
        """SELECT e.id, e.kind, e.text, e.sent_at, e.opt_out, COALESCE(e.token, c.token) AS token
           FROM inbox_events e LEFT JOIN mirror_contacts c ON c.phone = e.phone
           WHERE e.id > ? ORDER BY e.id""",
        (since,),
    ).fetchall()
    for r in rows:
        since = max(since, r["id"])
        if r["token"] is None:  # an unknown number: the next sync brings it with its contact
            continue
        at = epoch(datetime.fromisoformat(r["sent_at"]))
        if _api_copy(conn, r["token"], at, "inbound", r["text"]):
            continue
        cur = conn.execute(
            """INSERT INTO mirror_messages (token, at, direction, type, text, source, local_ref, opt_out)
               VALUES (?, ?, 'inbound', ?, ?, 'webhook', ?, ?) ON CONFLICT DO NOTHING""",
            # The inbox decided opt-out on arrival, with the configured phrases: keep its answer.
            (r["token"], at, r["kind"], r["text"], f"webhook:{r['id']}", int(r["opt_out"])),
        )
        added += cur.rowcount
        touched.add(r["token"])
    _set_cursor(conn, "inbox", str(since))
    mark = _cursor(conn, "sends", "")
    rescan = ""
    if mark:
        back = datetime.fromtimestamp(epoch(datetime.fromisoformat(mark)) - SEND_RESCAN_S, UTC)
        rescan = back.isoformat(timespec="microseconds")
    rows = conn.execute(
        """SELECT id, token, kind, text, template, sending_at FROM sends
           WHERE status = 'sent' AND sending_at >= ? ORDER BY sending_at""",
        (rescan,),
    ).fetchall()
    for r in rows:
        mark = max(mark, r["sending_at"])
        ref = f"send:{r['id']}"
        if conn.execute("SELECT 1 FROM mirror_messages WHERE local_ref = ?", (ref,)).fetchone():
            continue
        at = epoch(datetime.fromisoformat(r["sending_at"]))
        existing = _api_copy(conn, r["token"], at, "outbound", r["text"], template=r["kind"] == "template")
        if existing is not None:  # the API's copy came first: only note what we know about it
            conn.execute(
                "UPDATE mirror_messages SET local_ref = ?, template = ?, "
                "type = CASE WHEN CAST(? AS TEXT) IS NULL THEN type ELSE 'template' END WHERE id = ?",
                (ref, r["template"], r["template"], existing),
            )
            continue
        conn.execute(
            """INSERT INTO mirror_messages (token, at, direction, type, template, text, source, local_ref)
               VALUES (?, ?, 'outbound', ?, ?, ?, 'send', ?)""",
            (r["token"], at, "template" if r["kind"] == "template" else "text", r["template"], r["text"], ref),
        )
        added += 1
        touched.add(r["token"])
    if mark:
        _set_cursor(conn, "sends", mark)
    refresh_threads(conn, touched)
    return added


def _api_copy(
    conn: Connection, token: str, at: int, direction: str, text: str, *, template: bool = False
) -> int | None:
    row = conn.execute(
        """SELECT id FROM mirror_messages WHERE token = ? AND direction = ? AND at BETWEEN ? AND ?
             AND source = 'api' AND local_ref IS NULL AND (text = ? OR ? = 1)
           ORDER BY ABS(at - ?) LIMIT 1""",
        (token, direction, at - SAME_MESSAGE_S, at + SAME_MESSAGE_S, text, int(template), at),
    ).fetchone()
    return int(row[0]) if row else None


def reset(conn: Connection) -> None:
    """Forget the whole mirror (the account behind it changed); the next sync starts a first pass."""
    for table in (
        "mirror_contacts",
        "mirror_contact_labels",
        "mirror_labels",
        "mirror_messages",
        "mirror_threads",
        "mirror_chatbot",
        "mirror_chatbot_messages",
        "mirror_sync",
    ):  # mirror_cursor stays: webhook events and sends from before are not folded in again
        conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names


# -- one transaction each, for the sync engine and the tools ----------------------------------


def store_labels(conn: Connection, labels: Sequence[api.Label], state: SyncState) -> None:
    upsert_labels(conn, labels)
    save_state(conn, state)


def store_page(
    conn: Connection, kind: str, items: Sequence[Any], now: int, rules: OptOutRules, state: SyncState | None = None
) -> int:
    """One page of ``kind`` and (on a first pass) the checkpoint past it, in the caller's transaction;
    returns the records it added (for conversations, the messages not stored before)."""
    added = len(items)
    if kind == "contacts":
        upsert_contacts(conn, items, now)
    elif kind == "conversations":
        added = upsert_conversations(conn, items, rules)
    else:
        upsert_chatbot(conn, items)
    if state is not None:
        save_state(conn, state)
    return added


def answering(fn: Callable[[Connection], T]) -> Callable[[Connection], tuple[T, Freshness]]:
    """``fn`` over the mirror with local events and sends folded in first, and how fresh it is."""

    def run(conn: Connection) -> tuple[T, Freshness]:
        absorb_local(conn)
        return fn(conn), freshness(conn)

    return run
