"""Versioned schema migrations, one list for both backends, recorded in ``schema_migrations``.

Each migration has the DDL of each backend (the only place the two schemas differ: identity
columns, case-insensitive names). All pending migrations run in one transaction, so a failure
leaves the schema as it was (both SQLite and PostgreSQL have transactional DDL); on PostgreSQL an
advisory lock makes replicas that start together migrate one after the other.

Version 1 is the schema every earlier release created (``IF NOT EXISTS``): a store written before
migrations existed is adopted in place, every row kept.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sqlite: str
    postgres: str


_BASELINE_SQLITE = """
CREATE TABLE IF NOT EXISTS send_approvals (
    id TEXT PRIMARY KEY,                 -- unguessable
    client TEXT NOT NULL,                -- who asked (see server.messaging.approval_flow.client_key)
    digest TEXT NOT NULL,                -- sha256 of the exact payload shown
    kind TEXT NOT NULL,                  -- session | template
    channel TEXT NOT NULL,               -- elicitation | page | host | none | pending
    status TEXT NOT NULL,                -- pending | approved | used | rejected | expired | refused
    secret_hash TEXT,                    -- approval page link secret, hashed
    allowed_because TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    decided_at TEXT,
    decided_by TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS send_approvals_lookup ON send_approvals(digest, client, created_at);
CREATE TABLE IF NOT EXISTS sends (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    approval_id TEXT NOT NULL REFERENCES send_approvals(id),
    seq INTEGER NOT NULL,
    token TEXT NOT NULL,
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    template TEXT,
    params TEXT NOT NULL DEFAULT '[]',
    instance_id TEXT,
    content_key TEXT NOT NULL,
    repeat_of INTEGER,
    status TEXT NOT NULL,
    message_id TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    sending_at TEXT,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS sends_by_approval ON sends(approval_id, seq);
CREATE INDEX IF NOT EXISTS sends_by_content ON sends(content_key, sending_at);
CREATE INDEX IF NOT EXISTS sends_by_status ON sends(status, sending_at);
CREATE TABLE IF NOT EXISTS inbox_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key TEXT NOT NULL UNIQUE,
    phone TEXT NOT NULL,                 -- E.164 digits (see phones.py)
    token TEXT,                          -- prospect_token, once linked
    name TEXT,                           -- WhatsApp profile name from the payload (customer-controlled)
    kind TEXT NOT NULL,                  -- message type: text, image, ...
    text TEXT NOT NULL,                  -- as received; cleaned when shown
    sent_at TEXT NOT NULL,               -- the event's timestamp, ISO 8601 UTC
    received_at TEXT NOT NULL,           -- when this server committed it
    opt_out INTEGER NOT NULL DEFAULT 0,  -- the text asked to stop messages
    handled_at TEXT
);
CREATE INDEX IF NOT EXISTS inbox_events_phone ON inbox_events(phone, id);
CREATE INDEX IF NOT EXISTS inbox_events_token ON inbox_events(token, id);
CREATE INDEX IF NOT EXISTS inbox_events_unread ON inbox_events(handled_at, id);
CREATE INDEX IF NOT EXISTS inbox_events_received ON inbox_events(received_at);
CREATE TABLE IF NOT EXISTS contact_state (
    phone TEXT PRIMARY KEY,              -- E.164 digits (see phones.py)
    token TEXT,                          -- prospect_token once known
    last_inbound_at TEXT,                -- ISO 8601 UTC
    opted_out_at TEXT,
    opt_out_text TEXT
);
CREATE INDEX IF NOT EXISTS contact_state_token ON contact_state(token);
CREATE TABLE IF NOT EXISTS created_contacts (
    token TEXT PRIMARY KEY,              -- prospect_token the API returned
    phone TEXT NOT NULL                  -- as sent to POST /contacts
);
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS campaign_approvals (
    approval_id TEXT PRIMARY KEY REFERENCES send_approvals(id),
    campaign_id TEXT NOT NULL REFERENCES campaigns(id)
);
CREATE INDEX IF NOT EXISTS campaign_approvals_by_campaign ON campaign_approvals(campaign_id);
"""

_BASELINE_POSTGRES = """
CREATE TABLE IF NOT EXISTS send_approvals (
    id TEXT PRIMARY KEY,                 -- unguessable
    client TEXT NOT NULL,                -- who asked (see server.messaging.approval_flow.client_key)
    digest TEXT NOT NULL,                -- sha256 of the exact payload shown
    kind TEXT NOT NULL,                  -- session | template
    channel TEXT NOT NULL,               -- elicitation | page | host | none | pending
    status TEXT NOT NULL,                -- pending | approved | used | rejected | expired | refused
    secret_hash TEXT,                    -- approval page link secret, hashed
    allowed_because TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    decided_at TEXT,
    decided_by TEXT,
    note TEXT,
    rowid BIGINT GENERATED ALWAYS AS IDENTITY  -- insertion order, as SQLite's rowid
);
CREATE INDEX IF NOT EXISTS send_approvals_lookup ON send_approvals(digest, client, created_at);
CREATE TABLE IF NOT EXISTS sends (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    approval_id TEXT NOT NULL REFERENCES send_approvals(id),
    seq INTEGER NOT NULL,
    token TEXT NOT NULL,
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    template TEXT,
    params TEXT NOT NULL DEFAULT '[]',
    instance_id TEXT,
    content_key TEXT NOT NULL,
    repeat_of INTEGER,
    status TEXT NOT NULL,
    message_id TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    sending_at TEXT,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS sends_by_approval ON sends(approval_id, seq);
CREATE INDEX IF NOT EXISTS sends_by_content ON sends(content_key, sending_at);
CREATE INDEX IF NOT EXISTS sends_by_status ON sends(status, sending_at);
CREATE TABLE IF NOT EXISTS inbox_events (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    dedupe_key TEXT NOT NULL UNIQUE,
    phone TEXT NOT NULL,                 -- E.164 digits (see phones.py)
    token TEXT,                          -- prospect_token, once linked
    name TEXT,                           -- WhatsApp profile name from the payload (customer-controlled)
    kind TEXT NOT NULL,                  -- message type: text, image, ...
    text TEXT NOT NULL,                  -- as received; cleaned when shown
    sent_at TEXT NOT NULL,               -- the event's timestamp, ISO 8601 UTC
    received_at TEXT NOT NULL,           -- when this server committed it
    opt_out INTEGER NOT NULL DEFAULT 0,  -- the text asked to stop messages
    handled_at TEXT
);
CREATE INDEX IF NOT EXISTS inbox_events_phone ON inbox_events(phone, id);
CREATE INDEX IF NOT EXISTS inbox_events_token ON inbox_events(token, id);
CREATE INDEX IF NOT EXISTS inbox_events_unread ON inbox_events(handled_at, id);
CREATE INDEX IF NOT EXISTS inbox_events_received ON inbox_events(received_at);
CREATE TABLE IF NOT EXISTS contact_state (
    phone TEXT PRIMARY KEY,              -- E.164 digits (see phones.py)
    token TEXT,                          -- prospect_token once known
    last_inbound_at TEXT,                -- ISO 8601 UTC
    opted_out_at TEXT,
    opt_out_text TEXT
);
CREATE INDEX IF NOT EXISTS contact_state_token ON contact_state(token);
CREATE TABLE IF NOT EXISTS created_contacts (
    token TEXT PRIMARY KEY,              -- prospect_token the API returned
    phone TEXT NOT NULL                  -- as sent to POST /contacts
);
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    rowid BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE UNIQUE INDEX IF NOT EXISTS campaigns_name ON campaigns(lower(name));
CREATE TABLE IF NOT EXISTS campaign_approvals (
    approval_id TEXT PRIMARY KEY REFERENCES send_approvals(id),
    campaign_id TEXT NOT NULL REFERENCES campaigns(id)
);
CREATE INDEX IF NOT EXISTS campaign_approvals_by_campaign ON campaign_approvals(campaign_id);
"""

# Several processes on one store: who holds what (leases), the API tokens they share, the keys they
# must agree on, and which process claimed each message (so recovery settles only a dead one's).
_SHARED_STATE = """
CREATE TABLE leases (
    name TEXT PRIMARY KEY,               -- 'replica:<id>' heartbeats, 'job:<name>', 'oauth:<owner>'
    holder TEXT NOT NULL,                -- a process id (see store.leases)
    expires_at TEXT NOT NULL             -- ISO 8601 UTC; an expired lease is free
);
CREATE TABLE api_tokens (
    owner TEXT PRIMARY KEY,              -- API base URL + client id
    access_token TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    refresh_at TEXT NOT NULL,            -- renew from then on, ISO 8601 UTC
    expires_at TEXT NOT NULL,            -- the access token's expiry
    updated_at TEXT NOT NULL
);
CREATE TABLE shared_secrets (
    name TEXT PRIMARY KEY,               -- e.g. approval page form key, request-state key
    value TEXT NOT NULL                  -- hex
);
ALTER TABLE sends ADD COLUMN owner TEXT;  -- the process that claimed the message for sending
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "baseline: send journal, inbox, contact state, campaigns", _BASELINE_SQLITE, _BASELINE_POSTGRES),
    Migration(2, "shared state: leases, API tokens, shared secrets, send owners", _SHARED_STATE, _SHARED_STATE),
)

LATEST = MIGRATIONS[-1].version

_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


class MigrationError(Exception):
    """The schema cannot be brought to this version; nothing was changed."""


def statements(script: str) -> list[str]:
    """A script cut into its statements (our DDL has no ';' inside a statement)."""
    out, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())
    return [s for s in out if s]


def pending(applied: set[int], migrations: tuple[Migration, ...] = MIGRATIONS) -> list[Migration]:
    """The migrations still to run, in order; refuses a schema newer than this code."""
    newest, known = max(applied, default=0), max(m.version for m in migrations)
    if newest > known:
        raise MigrationError(
            f"the database was written by a newer outperform-mcp (schema version {newest}, this one knows "
            f"up to {known}): upgrade this server"
        )
    return [m for m in migrations if m.version not in applied]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def migrate_sqlite(conn: sqlite3.Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Bring a SQLite store up to date in one transaction; returns the versions applied."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_TABLE)
        todo = pending({int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}, migrations)
        for m in todo:
            for statement in statements(m.sqlite):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (m.version, m.name, _now()),
            )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return [m.version for m in todo]
