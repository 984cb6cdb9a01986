"""Full-text search over the mirror: SQLite FTS5, the one dialect-specific part of the mirror.

Two external-content FTS5 indexes (message text, chatbot transcript lines) kept in step by
triggers. ``unicode61 remove_diacritics 2`` folds case and accents, so "harga", "HARGA" and
"hargá" match; no stemmer, because Porter would mangle Malay. A PostgreSQL store would replace
this module (tsvector with the 'simple' configuration and unaccent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from . import mirror  # noqa: F401  (its schema must be created first)
from .db import SCHEMAS, Connection

SCHEMAS["mirror_fts"] = """
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

_WORD = re.compile(r"\w+\*?|\bOR\b", re.UNICODE)
SNIPPET_TOKENS = 14


class BadQuery(ValueError):
    pass


def fts_query(text: str) -> str:
    """User words as an FTS5 query: every word must occur (``OR`` between two words allows either);
    ``pric*`` matches a prefix. Operators and quotes typed by the user never reach FTS5 as syntax."""
    parts: list[str] = []
    for word in _WORD.findall(text):
        if word == "OR":
            if parts and parts[-1] != "OR":
                parts.append("OR")
            continue
        prefix = word.endswith("*")
        parts.append(f'"{word.rstrip("*")}"' + ("*" if prefix else ""))
    while parts and parts[-1] == "OR":
        parts.pop()
    if not parts:
        raise BadQuery("the query has no words to search for: pass one or more words, e.g. 'price OR harga'")
    return " ".join(parts)


@dataclass(frozen=True)
class Hit:
    source: Literal["message", "chatbot"]
    ref: str  # message id, or chatbot session id
    token: str | None
    name: str | None
    at: int | None
    direction: str
    snippet: str


@dataclass(frozen=True)
class Filters:
    token: str | None = None
    label: str | None = None
    direction: str | None = None
    start: int | None = None  # Unix seconds, inclusive
    end: int | None = None  # exclusive
    sentiment: str | None = None  # chatbot only


def _where(f: Filters, alias: str, token_col: str) -> tuple[str, list[object]]:
    where: list[str] = []
    args: list[object] = []
    if f.token:
        where.append(f"{token_col} = ?")
        args.append(f.token)
    if f.label:
        where.append(f"{token_col} IN (SELECT token FROM mirror_contact_labels WHERE label = ?)")
        args.append(f.label)
    if f.direction:
        where.append(f"{alias}.direction = ?")
        args.append(f.direction)
    if f.start is not None:
        where.append(f"{alias}.at >= ?")
        args.append(f.start)
    if f.end is not None:
        where.append(f"{alias}.at < ?")
        args.append(f.end)
    return "".join(f" AND {w}" for w in where), args


def search(
    conn: Connection,
    query: str,
    filters: Filters,
    *,
    sources: tuple[str, ...] = ("message", "chatbot"),
    limit: int = 10,
) -> tuple[list[Hit], int]:
    """Best-ranked hits (BM25) across the chosen sources, and how many matched in all."""
    match = fts_query(query)
    ranked: list[tuple[float, Hit]] = []
    total = 0
    mark = ("\u27e6", "\u27e7")  # ⟦ ⟧ around the matched words: unlikely inside customer text
    if "message" in sources and filters.sentiment is None:
        clause, args = _where(filters, "m", "m.token")
        base = f"FROM mirror_messages_fts f JOIN mirror_messages m ON m.id = f.rowid WHERE f.text MATCH ?{clause}"
        total += conn.execute(f"SELECT COUNT(*) {base}", [match, *args]).fetchone()[0]
        rows = conn.execute(
            "SELECT m.id, m.token, (SELECT name FROM mirror_contacts c WHERE c.token = m.token) AS name, "
            f"m.at, m.direction, bm25(mirror_messages_fts) AS rank, "
            f"snippet(mirror_messages_fts, 0, ?, ?, '…', {SNIPPET_TOKENS}) AS snip {base} ORDER BY rank LIMIT ?",
            [*mark, match, *args, limit],
        )
        ranked += [
            (r["rank"], Hit("message", str(r["id"]), r["token"], r["name"], r["at"], r["direction"], r["snip"]))
            for r in rows
        ]
    if "chatbot" in sources:
        clause, args = _where(filters, "m", "s.token")
        if filters.sentiment:
            clause += " AND s.sentiment = ?"
            args.append(filters.sentiment)
        base = (
            "FROM mirror_chatbot_fts f JOIN mirror_chatbot_messages m ON m.id = f.rowid "
            f"JOIN mirror_chatbot s ON s.id = m.session_id WHERE f.text MATCH ?{clause}"
        )
        total += conn.execute(f"SELECT COUNT(*) {base}", [match, *args]).fetchone()[0]
        rows = conn.execute(
            f"SELECT m.session_id, s.token, s.name, m.at, m.direction, bm25(mirror_chatbot_fts) AS rank, "
            f"snippet(mirror_chatbot_fts, 0, ?, ?, '…', {SNIPPET_TOKENS}) AS snip {base} ORDER BY rank LIMIT ?",
            [*mark, match, *args, limit],
        )
        ranked += [
            (r["rank"], Hit("chatbot", str(r["session_id"]), r["token"], r["name"], r["at"], r["direction"], r["snip"]))
            for r in rows
        ]
    ranked.sort(key=lambda pair: pair[0])
    return [hit for _, hit in ranked[:limit]], total
