"""The local mirror's tables (store.mirror*), in each backend's DDL: migration 3.

The only differences: identity columns, and full-text search. SQLite indexes message text and
chatbot transcript lines in external-content FTS5 tables kept in step by triggers
(``unicode61 remove_diacritics 2`` folds case and accents; no stemmer, because Porter would mangle
Malay). PostgreSQL keeps a generated ``words`` tsvector column with a GIN index: the ``simple``
configuration (lower case, no stemming) over the text with accents folded by ``translate`` with
the table below, so no extension (unaccent) is needed and the column stays immutable. Queries fold
their words with the same table (``fold``).
"""

from __future__ import annotations

import unicodedata


def _accent_table() -> tuple[str, str]:
    """Latin letters with diacritics (U+00C0..U+024F) and the plain letter each folds to."""
    src, dst = [], []
    for code in range(0xC0, 0x250):
        char = chr(code)
        base = unicodedata.normalize("NFKD", char)[0]
        if base != char and base.isascii() and base.isalpha():
            src.append(char)
            dst.append(base)
    return "".join(src), "".join(dst)


ACCENTED, PLAIN = _accent_table()
_FOLD = str.maketrans(ACCENTED, PLAIN)


def fold(text: str) -> str:
    """Accents off, as the PostgreSQL index sees text (case is folded by the ``simple`` configuration)."""
    return text.translate(_FOLD)


SQLITE = """
CREATE TABLE IF NOT EXISTS mirror_contacts (
    token TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    phone TEXT NOT NULL,                 -- digits only
    email TEXT,
    created_at INTEGER,
    synced_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS mirror_contacts_phone ON mirror_contacts(phone);
CREATE TABLE IF NOT EXISTS mirror_contact_labels (
    label TEXT NOT NULL,
    token TEXT NOT NULL,
    PRIMARY KEY (label, token)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mirror_contact_labels_token ON mirror_contact_labels(token);
CREATE TABLE IF NOT EXISTS mirror_labels (name TEXT PRIMARY KEY, contacts INTEGER);
CREATE TABLE IF NOT EXISTS mirror_messages (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL,
    at INTEGER NOT NULL,
    direction TEXT NOT NULL,             -- inbound | outbound
    type TEXT NOT NULL DEFAULT 'text',   -- text, template, image, ... as the API or webhook says
    template TEXT,                       -- template name, known for this server's own sends
    text TEXT NOT NULL,
    source TEXT NOT NULL,                -- api | webhook | send (the last two provisional)
    api_key TEXT UNIQUE,                 -- identity of the API's copy (token, second, direction, text)
    local_ref TEXT UNIQUE,               -- webhook:<event id> | send:<send id>, kept once reconciled
    opt_out INTEGER NOT NULL DEFAULT 0,  -- inbound text asking to stop messages
    turn_start INTEGER NOT NULL DEFAULT 0,  -- first message of a run from one side
    answered_at INTEGER                  -- first later message from the other side
);
CREATE INDEX IF NOT EXISTS mirror_messages_token ON mirror_messages(token, at);
CREATE INDEX IF NOT EXISTS mirror_messages_at ON mirror_messages(at);
-- Covers the reports' range scans, so they never read the message text.
CREATE INDEX IF NOT EXISTS mirror_messages_facts ON mirror_messages(at, token, direction, turn_start, answered_at);
CREATE TABLE IF NOT EXISTS mirror_threads (
    token TEXT PRIMARY KEY,
    messages INTEGER NOT NULL,
    inbound INTEGER NOT NULL,
    outbound INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    last_direction TEXT NOT NULL,
    last_inbound_at INTEGER,
    last_outbound_at INTEGER,
    awaiting_since INTEGER,              -- first inbound of the unanswered run at the end, else NULL
    opted_out_at INTEGER                 -- latest inbound asking to stop, else NULL
);
CREATE INDEX IF NOT EXISTS mirror_threads_awaiting ON mirror_threads(awaiting_since, token);
CREATE INDEX IF NOT EXISTS mirror_threads_outbound ON mirror_threads(last_direction, last_outbound_at);
CREATE INDEX IF NOT EXISTS mirror_threads_inbound ON mirror_threads(last_inbound_at);
CREATE TABLE IF NOT EXISTS mirror_chatbot (
    id TEXT PRIMARY KEY,
    token TEXT,
    name TEXT,
    phone TEXT,
    sentiment TEXT,
    concluded INTEGER NOT NULL,
    started_at INTEGER,
    ended_at INTEGER,
    summary TEXT,
    messages INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS mirror_chatbot_token ON mirror_chatbot(token, started_at);
CREATE INDEX IF NOT EXISTS mirror_chatbot_started ON mirror_chatbot(started_at);
CREATE TABLE IF NOT EXISTS mirror_chatbot_messages (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER,
    direction TEXT NOT NULL,
    text TEXT NOT NULL,
    UNIQUE (session_id, seq)
);
CREATE TABLE IF NOT EXISTS mirror_sync (
    kind TEXT PRIMARY KEY,               -- labels | contacts | conversations | chatbot
    complete INTEGER NOT NULL DEFAULT 0, -- the initial sync of this kind finished
    next_page INTEGER NOT NULL DEFAULT 1,-- initial sync: the first page not stored yet
    run_started_at INTEGER,              -- start of the pass in progress (or last)
    watermark INTEGER,                   -- start of the last finished pass: everything before is stored
    items INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE TABLE IF NOT EXISTS mirror_cursor (source TEXT PRIMARY KEY, position TEXT NOT NULL);

CREATE VIRTUAL TABLE IF NOT EXISTS mirror_messages_fts USING fts5(
    text, content='mirror_messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS mirror_messages_ai AFTER INSERT ON mirror_messages BEGIN
    INSERT INTO mirror_messages_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS mirror_messages_ad AFTER DELETE ON mirror_messages BEGIN
    INSERT INTO mirror_messages_fts(mirror_messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER IF NOT EXISTS mirror_messages_au AFTER UPDATE OF text ON mirror_messages BEGIN
    INSERT INTO mirror_messages_fts(mirror_messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO mirror_messages_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE VIRTUAL TABLE IF NOT EXISTS mirror_chatbot_fts USING fts5(
    text, content='mirror_chatbot_messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS mirror_chatbot_ai AFTER INSERT ON mirror_chatbot_messages BEGIN
    INSERT INTO mirror_chatbot_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS mirror_chatbot_ad AFTER DELETE ON mirror_chatbot_messages BEGIN
    INSERT INTO mirror_chatbot_fts(mirror_chatbot_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""

POSTGRES = """
CREATE TABLE IF NOT EXISTS mirror_contacts (
    token TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    phone TEXT NOT NULL,                 -- digits only
    email TEXT,
    created_at BIGINT,
    synced_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS mirror_contacts_phone ON mirror_contacts(phone);
CREATE TABLE IF NOT EXISTS mirror_contact_labels (
    label TEXT NOT NULL,
    token TEXT NOT NULL,
    PRIMARY KEY (label, token)
);
CREATE INDEX IF NOT EXISTS mirror_contact_labels_token ON mirror_contact_labels(token);
CREATE TABLE IF NOT EXISTS mirror_labels (name TEXT PRIMARY KEY, contacts INTEGER);
CREATE TABLE IF NOT EXISTS mirror_messages (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    token TEXT NOT NULL,
    at BIGINT NOT NULL,
    direction TEXT NOT NULL,             -- inbound | outbound
    type TEXT NOT NULL DEFAULT 'text',   -- text, template, image, ... as the API or webhook says
    template TEXT,                       -- template name, known for this server's own sends
    text TEXT NOT NULL,
    source TEXT NOT NULL,                -- api | webhook | send (the last two provisional)
    api_key TEXT UNIQUE,                 -- identity of the API's copy (token, second, direction, text)
    local_ref TEXT UNIQUE,               -- webhook:<event id> | send:<send id>, kept once reconciled
    opt_out INTEGER NOT NULL DEFAULT 0,  -- inbound text asking to stop messages
    turn_start INTEGER NOT NULL DEFAULT 0,  -- first message of a run from one side
    answered_at BIGINT,                 -- first later message from the other side
    words tsvector GENERATED ALWAYS AS (to_tsvector('simple', translate(text, {accented}, {plain}))) STORED
);
CREATE INDEX IF NOT EXISTS mirror_messages_words ON mirror_messages USING GIN (words);
CREATE INDEX IF NOT EXISTS mirror_messages_token ON mirror_messages(token, at);
CREATE INDEX IF NOT EXISTS mirror_messages_at ON mirror_messages(at);
-- Covers the reports' range scans, so they never read the message text.
CREATE INDEX IF NOT EXISTS mirror_messages_facts ON mirror_messages(at, token, direction, turn_start, answered_at);
CREATE TABLE IF NOT EXISTS mirror_threads (
    token TEXT PRIMARY KEY,
    messages INTEGER NOT NULL,
    inbound INTEGER NOT NULL,
    outbound INTEGER NOT NULL,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    last_direction TEXT NOT NULL,
    last_inbound_at BIGINT,
    last_outbound_at BIGINT,
    awaiting_since BIGINT,              -- first inbound of the unanswered run at the end, else NULL
    opted_out_at BIGINT                 -- latest inbound asking to stop, else NULL
);
CREATE INDEX IF NOT EXISTS mirror_threads_awaiting ON mirror_threads(awaiting_since, token);
CREATE INDEX IF NOT EXISTS mirror_threads_outbound ON mirror_threads(last_direction, last_outbound_at);
CREATE INDEX IF NOT EXISTS mirror_threads_inbound ON mirror_threads(last_inbound_at);
CREATE TABLE IF NOT EXISTS mirror_chatbot (
    id TEXT PRIMARY KEY,
    token TEXT,
    name TEXT,
    phone TEXT,
    sentiment TEXT,
    concluded INTEGER NOT NULL,
    started_at BIGINT,
    ended_at BIGINT,
    summary TEXT,
    messages INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS mirror_chatbot_token ON mirror_chatbot(token, started_at);
CREATE INDEX IF NOT EXISTS mirror_chatbot_started ON mirror_chatbot(started_at);
CREATE TABLE IF NOT EXISTS mirror_chatbot_messages (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at BIGINT,
    direction TEXT NOT NULL,
    text TEXT NOT NULL,
    words tsvector GENERATED ALWAYS AS (to_tsvector('simple', translate(text, {accented}, {plain}))) STORED,
    UNIQUE (session_id, seq)
);
CREATE INDEX IF NOT EXISTS mirror_chatbot_messages_words ON mirror_chatbot_messages USING GIN (words);
CREATE TABLE IF NOT EXISTS mirror_sync (
    kind TEXT PRIMARY KEY,               -- labels | contacts | conversations | chatbot
    complete INTEGER NOT NULL DEFAULT 0, -- the initial sync of this kind finished
    next_page INTEGER NOT NULL DEFAULT 1,-- initial sync: the first page not stored yet
    run_started_at BIGINT,              -- start of the pass in progress (or last)
    watermark BIGINT,                   -- start of the last finished pass: everything before is stored
    items INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE TABLE IF NOT EXISTS mirror_cursor (source TEXT PRIMARY KEY, position TEXT NOT NULL);
""".format(accented=f"'{ACCENTED}'", plain=f"'{PLAIN}'")
