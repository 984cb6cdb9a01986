"""Full-text search over the mirror's message text and chatbot transcript lines.

The user's words are parsed once (``terms``); each backend has its own match, rank and snippet:
SQLite FTS5 (BM25, ``snippet``), PostgreSQL tsvector (``ts_rank``, ``ts_headline``) over the
indexes of migration 3 (see ``mirror_schema``). Both fold case and accents and do no stemming.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from .db import Connection
from .mirror_dialect import dialect
from .mirror_schema import ACCENTED, PLAIN, fold

_WORD = re.compile(r"\w+\*?|\bOR\b", re.UNICODE)
SNIPPET_TOKENS = 14


class BadQuery(ValueError):
    pass


def terms(text: str) -> list[str]:
    """The user's words: every word must occur (``OR`` between two words allows either); ``pric*``
    matches a prefix. Operators and quotes typed by the user never reach the database as syntax."""
    parts: list[str] = []
    for word in _WORD.findall(text):
        if word == "OR":
            if parts and parts[-1] != "OR":
                parts.append("OR")
            continue
        parts.append(word)
    while parts and parts[-1] == "OR":
        parts.pop()
    if not parts:
        raise BadQuery("the query has no words to search for: pass one or more words, e.g. 'price OR harga'")
    return parts


def fts_query(text: str) -> str:
    """The words as an FTS5 query."""
    return " ".join(w if w == "OR" else f'"{w.rstrip("*")}"' + ("*" if w.endswith("*") else "") for w in terms(text))


def ts_query(text: str) -> str:
    """The words as a PostgreSQL tsquery (for ``to_tsquery('simple', ...)``), accents folded as indexed."""
    out: list[str] = []
    for w in terms(text):
        if w == "OR":
            out.append("|")
            continue
        if out and out[-1] != "|":
            out.append("&")
        word = fold(w.rstrip("*")).lower().replace("'", "")
        out.append(f"'{word}'" + (":*" if w.endswith("*") else ""))
    return " ".join(out)


MARK = ("\u27e6", "\u27e7")  # ⟦ ⟧ around the matched words: unlikely inside customer text


def unfold_snippet(text: str, headline: str) -> str:
    """A PostgreSQL headline cut from the accent-folded text, put back in the text's own letters.
    Folding maps one character to one, so the headline's stretch of folded text sits at the same
    offsets in the original."""
    plain = headline.replace(MARK[0], "").replace(MARK[1], "")
    at = fold(text).find(plain)
    if at < 0:  # not expected; the folded headline is still a faithful excerpt
        return headline
    out: list[str] = []
    for piece in re.split(f"({MARK[0]}|{MARK[1]})", headline):
        if piece in MARK:
            out.append(piece)
        else:
            out.append(text[at : at + len(piece)])
            at += len(piece)
    return "".join(out)


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
    """Best-ranked hits across the chosen sources (lower rank is better), and how many matched in all."""
    pg = dialect(conn) == "postgres"
    match = ts_query(query) if pg else fts_query(query)
    ranked: list[tuple[float, Hit]] = []
    total = 0

    def snip_of(row: Any) -> str:
        return str(unfold_snippet(row["text"], row["snip"]) if pg else row["snip"])

    # PostgreSQL ranks and cuts snippets from the query again; FTS5 from the row it matched.
    if pg:
        rank_args: list[object] = [match]
        options = f"StartSel={MARK[0]}, StopSel={MARK[1]}, MaxWords={SNIPPET_TOKENS}, MinWords=4"
        snip_args: list[object] = [ACCENTED, PLAIN, match, options]
    else:
        rank_args, snip_args = [], [*MARK]
    if "message" in sources and filters.sentiment is None:
        clause, args = _where(filters, "m", "m.token")
        if pg:
            base = f"FROM mirror_messages m WHERE m.words @@ to_tsquery('simple', ?){clause}"
            rank = "-ts_rank(m.words, to_tsquery('simple', ?))"
            snip = "ts_headline('simple', translate(m.text, ?, ?), to_tsquery('simple', ?), ?)"
        else:
            base = f"FROM mirror_messages_fts f JOIN mirror_messages m ON m.id = f.rowid WHERE f.text MATCH ?{clause}"
            rank = "bm25(mirror_messages_fts)"
            snip = f"snippet(mirror_messages_fts, 0, ?, ?, '…', {SNIPPET_TOKENS})"
        total += conn.execute(f"SELECT COUNT(*) {base}", [match, *args]).fetchone()[0]
        rows = conn.execute(
            "SELECT m.id, m.token, (SELECT name FROM mirror_contacts c WHERE c.token = m.token) AS name, "
            f"m.at, m.direction, m.text, {rank} AS rank, {snip} AS snip {base} ORDER BY rank LIMIT ?",
            [*rank_args, *snip_args, match, *args, limit],
        )
        ranked += [
            (r["rank"], Hit("message", str(r["id"]), r["token"], r["name"], r["at"], r["direction"], snip_of(r)))
            for r in rows
        ]
    if "chatbot" in sources:
        clause, args = _where(filters, "m", "s.token")
        if filters.sentiment:
            clause += " AND s.sentiment = ?"
            args.append(filters.sentiment)
        if pg:
            base = (
                "FROM mirror_chatbot_messages m JOIN mirror_chatbot s ON s.id = m.session_id "
                f"WHERE m.words @@ to_tsquery('simple', ?){clause}"
            )
            rank = "-ts_rank(m.words, to_tsquery('simple', ?))"
            snip = "ts_headline('simple', translate(m.text, ?, ?), to_tsquery('simple', ?), ?)"
        else:
            base = (
                "FROM mirror_chatbot_fts f JOIN mirror_chatbot_messages m ON m.id = f.rowid "
                f"JOIN mirror_chatbot s ON s.id = m.session_id WHERE f.text MATCH ?{clause}"
            )
            rank = "bm25(mirror_chatbot_fts)"
            snip = f"snippet(mirror_chatbot_fts, 0, ?, ?, '…', {SNIPPET_TOKENS})"
        total += conn.execute(f"SELECT COUNT(*) {base}", [match, *args]).fetchone()[0]
        rows = conn.execute(
            f"SELECT m.session_id, s.token, s.name, m.at, m.direction, m.text, {rank} AS rank, {snip} AS snip {base} "
            "ORDER BY rank LIMIT ?",
            [*rank_args, *snip_args, match, *args, limit],
        )
        ranked += [
            (r["rank"], Hit("chatbot", r["session_id"], r["token"], r["name"], r["at"], r["direction"], snip_of(r)))
            for r in rows
        ]
    ranked.sort(key=lambda pair: pair[0])
    return [hit for _, hit in ranked[:limit]], total
