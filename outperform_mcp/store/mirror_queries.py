"""Questions the mirror answers in one statement or two: segments, the grouped report, chatbot reads.

Definitions (also in the README):
- a *turn* is a run of messages from one side; its first message starts it. Time to first reply is
  from the start of a turn to the other side's next message.
- *reply rate*: of our turns (outbound) started in the range, the share the contact answered.
- percentiles are nearest-rank: the value at rank ceil(p·n) of the sorted durations.
- *awaiting reply*: the thread's last message is inbound; its age counts from the first inbound of
  that unanswered run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from .db import Connection

SegmentKind = Literal["awaiting_reply", "silent", "replied_since", "window_open", "opted_out", "label", "campaign"]
GroupBy = Literal["none", "label", "day", "week", "template", "campaign"]
Metric = Literal[
    "contacts",
    "inbound",
    "outbound",
    "reply_rate",
    "our_reply_min",
    "their_reply_min",
    "awaiting",
    "sentiment",
]
METRICS: tuple[Metric, ...] = get_args(Metric)  # every metric, in report column order
WINDOW_S = 24 * 3600
DAY_S = 86400


def rank(n: int, num: int, den: int) -> int:
    """Nearest rank (1-based) of the num/den quantile among n values: ceil(n·num/den), in integers."""
    return max(1, (n * num + den - 1) // den)


def nearest_rank(values: Sequence[float], num: int, den: int) -> float | None:
    """The num/den quantile by nearest rank, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[rank(len(ordered), num, den) - 1]


# -- segments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentRow:
    token: str
    name: str
    phone: str
    at: int | None  # the moment the segment is about (awaiting since, last outbound, last inbound...)


@dataclass(frozen=True)
class SegmentPage:
    rows: list[SegmentRow]
    total: int
    next_cursor: str | None


# Segments without a natural order go by token; a bare 0 in ORDER BY would name a column.
_NO_ORDER = "CAST(0 AS INTEGER)"


def _segment_sql(
    kind: SegmentKind, *, now: int, days: int | None, since: int | None, opt_out_labels: Sequence[str]
) -> tuple[str, list[object], str]:
    """(condition, args, sort column) over contacts ``c`` left-joined to threads ``t``."""
    if kind == "campaign":  # its members come from the send journal (guard.campaigns.mirror_view)
        raise ValueError("a campaign segment is not a query over the mirror's threads")
    if kind == "awaiting_reply":
        return "t.awaiting_since IS NOT NULL", [], "t.awaiting_since"
    if kind == "silent":
        assert days is not None
        return "t.last_direction = 'outbound' AND t.last_outbound_at < ?", [now - days * DAY_S], "t.last_outbound_at"
    if kind == "replied_since":
        assert since is not None
        return "t.last_inbound_at >= ?", [since], "-t.last_inbound_at"
    if kind == "window_open":
        return "t.last_inbound_at > ?", [now - WINDOW_S], "t.last_inbound_at"
    if kind == "opted_out":
        marks = ",".join("?" * len(opt_out_labels)) or "NULL"
        cond = (
            "(t.opted_out_at IS NOT NULL"
            f" OR c.token IN (SELECT token FROM mirror_contact_labels WHERE label IN ({marks}))"
            " OR c.token IN (SELECT token FROM contact_state WHERE opted_out_at IS NOT NULL AND token IS NOT NULL)"
            " OR c.phone IN (SELECT phone FROM contact_state WHERE opted_out_at IS NOT NULL))"
        )
        return cond, list(opt_out_labels), _NO_ORDER
    return "1 = 1", [], _NO_ORDER  # label: the label filter does the work


def segment(
    conn: Connection,
    kind: SegmentKind,
    *,
    now: int,
    days: int | None = None,
    since: int | None = None,
    label: str | None = None,
    opt_out_labels: Sequence[str] = ("opt-out",),
    cursor: str | None = None,
    limit: int = 100,
) -> SegmentPage:
    """One page of the segment in a stable order (keyset paging: complete and never repeating)."""
    cond, args, sort = _segment_sql(kind, now=now, days=days, since=since, opt_out_labels=opt_out_labels)
    if label is not None:
        cond += " AND c.token IN (SELECT token FROM mirror_contact_labels WHERE label = ?)"
        args.append(label)
    base = f"FROM mirror_contacts c LEFT JOIN mirror_threads t ON t.token = c.token WHERE {cond}"
    total = int(conn.execute(f"SELECT COUNT(*) {base}", args).fetchone()[0])
    page_cond, page_args = "", list(args)
    if cursor:
        value, token = decode_cursor(cursor)
        page_cond = f" AND ({sort} > ? OR ({sort} = ? AND c.token > ?))"
        page_args += [value, value, token]
    at_col = sort.lstrip("-") if sort != _NO_ORDER else "t.last_at"
    rows = conn.execute(
        f"SELECT c.token, c.name, c.phone, {at_col} AS at, {sort} AS k {base}{page_cond} "
        f"ORDER BY {sort}, c.token LIMIT ?",
        [*page_args, limit + 1],
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(int(rows[-1]["k"]), rows[-1]["token"]) if more and rows else None
    return SegmentPage([SegmentRow(r["token"], r["name"], r["phone"], r["at"]) for r in rows], total, next_cursor)


def page_of(rows: Sequence[SegmentRow], cursor: str | None, limit: int) -> SegmentPage:
    """One page of a segment computed whole (a campaign's recipients), in token order, with the
    same cursor as the SQL segments."""
    ordered = sorted(rows, key=lambda r: r.token)
    after = decode_cursor(cursor)[1] if cursor else ""
    rest = [r for r in ordered if r.token > after]
    page = rest[:limit]
    more = len(rest) > limit
    return SegmentPage(page, len(ordered), encode_cursor(0, page[-1].token) if more and page else None)


def encode_cursor(value: int, token: str) -> str:
    return f"{value}.{token}"


def decode_cursor(cursor: str) -> tuple[int, str]:
    value, _, token = cursor.partition(".")
    try:
        return int(value), token
    except ValueError:
        raise ValueError(f"not a cursor from this tool: {cursor[:40]!r}; pass next_cursor unchanged") from None


# -- the report ------------------------------------------------------------------------------


@dataclass
class Table:
    columns: list[str]
    rows: list[list[object]] = field(default_factory=list)


def _group_expr(group_by: GroupBy, at: str) -> str:
    if group_by == "day":
        return f"date({at}, 'unixepoch')"
    if group_by == "week":
        return f"strftime('%Y-W%W', {at}, 'unixepoch')"
    if group_by == "label":
        return "l.label"
    return "'all'"


def _label_join(group_by: GroupBy, token: str) -> str:
    # CROSS JOIN keeps SQLite from starting at the labels: the date range is the selective side.
    return f" CROSS JOIN mirror_contact_labels l ON l.token = {token}" if group_by == "label" else ""


def _filter(label: str | None, token: str) -> tuple[str, list[object]]:
    if label is None:
        return "", []
    return f" AND {token} IN (SELECT token FROM mirror_contact_labels WHERE label = ?)", [label]


def _percentiles(
    conn: Connection, select: str, args: list[object]
) -> dict[tuple[object, str], tuple[float | None, float | None]]:
    """(group, side) -> (median, p90) over rows ``(g, side, d)`` of ``select`` (sorted here: faster
    than window functions in SQLite for these sizes)."""
    values: dict[tuple[object, str], list[float]] = {}
    for g, side, d in conn.execute(select, args):
        values.setdefault((g, side), []).append(d)
    return {k: (nearest_rank(v, 1, 2), nearest_rank(v, 9, 10)) for k, v in values.items()}


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def report(
    conn: Connection,
    *,
    group_by: GroupBy,
    start: int,
    end: int,
    now: int,
    label: str | None = None,
    metrics: Sequence[Metric] = METRICS,
) -> Table:
    """Counts and rates per group for messages (and chatbot sessions) in [start, end)."""
    if group_by == "template":
        return _template_report(conn, start=start, end=end, label=label)
    g = _group_expr(group_by, "m.at")
    join = _label_join(group_by, "m.token")
    extra, extra_args = _filter(label, "m.token")
    where = f"m.at >= ? AND m.at < ?{extra}"
    args: list[object] = [start, end, *extra_args]
    groups: dict[object, dict[str, object]] = {}
    sums = """SUM(m.direction = 'inbound') AS inbound, SUM(m.direction = 'outbound') AS outbound,
              SUM(m.turn_start AND m.direction = 'outbound') AS our_turns,
              SUM(m.turn_start AND m.direction = 'outbound' AND m.answered_at IS NOT NULL) AS answered"""
    if group_by == "label":  # per contact first, then per label: no COUNT(DISTINCT) over the join
        counts = f"""WITH per AS (SELECT m.token, {sums} FROM mirror_messages m WHERE {where} GROUP BY m.token)
            SELECT l.label AS g, COUNT(*) AS contacts, SUM(inbound) AS inbound, SUM(outbound) AS outbound,
                   SUM(our_turns) AS our_turns, SUM(answered) AS answered
            FROM per CROSS JOIN mirror_contact_labels l ON l.token = per.token GROUP BY g"""
    else:
        counts = (
            f"SELECT {g} AS g, COUNT(DISTINCT m.token) AS contacts, {sums} FROM mirror_messages m "
            f"WHERE {where} GROUP BY g"
        )
    for r in conn.execute(counts, args):
        groups[r["g"]] = {
            "contacts": r["contacts"],
            "inbound": r["inbound"],
            "outbound": r["outbound"],
            "reply_rate": round(100 * r["answered"] / r["our_turns"], 1) if r["our_turns"] else None,
        }
    if "our_reply_min" in metrics or "their_reply_min" in metrics:
        pct = _percentiles(
            conn,
            f"SELECT {g} AS g, m.direction AS side, m.answered_at - m.at AS d FROM mirror_messages m{join} "
            f"WHERE {where} AND m.turn_start = 1 AND m.answered_at IS NOT NULL",
            args,
        )
        for (key, side), (median, p90) in pct.items():
            row = groups.setdefault(key, {})
            prefix = "our_reply" if side == "inbound" else "their_reply"
            row[f"{prefix}_median_min"] = _minutes(median)
            row[f"{prefix}_p90_min"] = _minutes(p90)
    if "awaiting" in metrics:
        ga = _group_expr(group_by, "t.awaiting_since")
        join_t = _label_join(group_by, "t.token")
        extra_t, extra_t_args = _filter(label, "t.token")
        day_bound = " AND t.awaiting_since >= ? AND t.awaiting_since < ?" if group_by in ("day", "week") else ""
        bound_args: list[object] = [start, end] if day_bound else []
        ages: dict[object, list[float]] = {}
        for r in conn.execute(
            f"SELECT {ga} AS g, ? - t.awaiting_since AS age FROM mirror_threads t{join_t} "
            f"WHERE t.awaiting_since IS NOT NULL{day_bound}{extra_t}",
            [now, *bound_args, *extra_t_args],
        ):
            ages.setdefault(r["g"], []).append(r["age"])
        for key, values in ages.items():
            row = groups.setdefault(key, {})
            row["awaiting"] = len(values)
            row["awaiting_median_h"] = round((nearest_rank(values, 1, 2) or 0) / 3600, 1)
            row["awaiting_max_h"] = round(max(values) / 3600, 1)
    if "sentiment" in metrics:
        gs = _group_expr(group_by, "s.started_at")
        join_s = _label_join(group_by, "s.token")
        extra_s, extra_s_args = _filter(label, "s.token")
        for r in conn.execute(
            f"""SELECT {gs} AS g, SUM(s.sentiment = 'positive') AS pos, SUM(s.sentiment = 'neutral') AS neu,
                       SUM(s.sentiment = 'negative') AS neg
                FROM mirror_chatbot s{join_s} WHERE s.started_at >= ? AND s.started_at < ?{extra_s} GROUP BY g""",
            [start, end, *extra_s_args],
        ):
            row = groups.setdefault(r["g"], {})
            row.update(positive=r["pos"], neutral=r["neu"], negative=r["neg"])
    columns = ["group", *_columns(metrics)]
    table = Table(columns)
    for key in sorted(groups, key=lambda k: (k is None, str(k))):
        row = groups[key]
        table.rows.append([key, *(row.get(c, 0 if c in _COUNTS else None) for c in columns[1:])])
    return table


_COUNTS = {"contacts", "inbound", "outbound", "awaiting", "positive", "neutral", "negative"}


def _columns(metrics: Sequence[Metric]) -> list[str]:
    out: list[str] = []
    for m in METRICS:
        if m not in metrics:
            continue
        if m == "our_reply_min":
            out += ["our_reply_median_min", "our_reply_p90_min"]
        elif m == "their_reply_min":
            out += ["their_reply_median_min", "their_reply_p90_min"]
        elif m == "awaiting":
            out += ["awaiting", "awaiting_median_h", "awaiting_max_h"]
        elif m == "sentiment":
            out += ["positive", "neutral", "negative"]
        else:
            out.append(m)
    return out


def _template_report(conn: Connection, *, start: int, end: int, label: str | None) -> Table:
    extra, extra_args = _filter(label, "m.token")
    base = (
        "FROM mirror_messages m WHERE m.direction = 'outbound' AND m.type = 'template' "
        f"AND m.at >= ? AND m.at < ?{extra}"
    )
    args: list[object] = [start, end, *extra_args]
    pct = _percentiles(
        conn,
        f"SELECT COALESCE(m.template, '?') AS g, 'outbound' AS side, m.answered_at - m.at AS d {base} "
        "AND m.answered_at IS NOT NULL",
        args,
    )
    table = Table(["template", "sent", "contacts", "replied", "reply_rate", "their_reply_median_min"])
    for r in conn.execute(
        f"SELECT COALESCE(m.template, '?') AS g, COUNT(*) AS sent, COUNT(DISTINCT m.token) AS contacts, "
        f"SUM(m.answered_at IS NOT NULL) AS replied {base} GROUP BY g ORDER BY g",
        args,
    ):
        median = pct.get((r["g"], "outbound"), (None, None))[0]
        table.rows.append(
            [
                r["g"],
                r["sent"],
                r["contacts"],
                r["replied"],
                round(100 * r["replied"] / r["sent"], 1) if r["sent"] else None,
                _minutes(median),
            ]
        )
    return table


# -- chatbot ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    id: str
    token: str | None
    name: str | None
    sentiment: str | None
    concluded: bool
    started_at: int | None
    ended_at: int | None
    summary: str | None
    messages: list[tuple[int | None, str, str]]  # (at, direction, text)


def chatbot_session(conn: Connection, session_id: str) -> Session | None:
    row = conn.execute("SELECT * FROM mirror_chatbot WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        return None
    lines = conn.execute(
        "SELECT at, direction, text FROM mirror_chatbot_messages WHERE session_id = ? ORDER BY seq", (session_id,)
    ).fetchall()
    return Session(
        row["id"],
        row["token"],
        row["name"],
        row["sentiment"],
        bool(row["concluded"]),
        row["started_at"],
        row["ended_at"],
        row["summary"],
        [(r["at"], r["direction"], r["text"]) for r in lines],
    )


def chatbot_sessions(
    conn: Connection, *, token: str | None, sentiment: str | None, limit: int, before: int | None
) -> list[Session]:
    """Sessions newest first (``before``: started before this moment, for paging)."""
    where: list[str] = ["1 = 1"]
    args: list[object] = []
    if token:
        where.append("token = ?")
        args.append(token)
    if sentiment:
        where.append("sentiment = ?")
        args.append(sentiment)
    if before is not None:
        where.append("started_at < ?")
        args.append(before)
    rows = conn.execute(
        f"SELECT * FROM mirror_chatbot WHERE {' AND '.join(where)} ORDER BY started_at DESC, id LIMIT ?",
        [*args, limit],
    ).fetchall()
    return [
        Session(
            r["id"],
            r["token"],
            r["name"],
            r["sentiment"],
            bool(r["concluded"]),
            r["started_at"],
            r["ended_at"],
            r["summary"],
            [],
        )
        for r in rows
    ]


# -- campaigns -------------------------------------------------------------------------------


def thread_from(conn: Connection, token: str, since: int) -> list[tuple[int, str, str]]:
    """(at, direction, text) of the contact's messages from a day before ``since`` on, in thread
    order (the API's clock and ours may differ, and its times may be coarser than ours)."""
    rows = conn.execute(
        "SELECT at, direction, text FROM mirror_messages WHERE token = ? AND at >= ? ORDER BY at, id",
        (token, since - DAY_S),
    )
    return [(r[0], r[1], r[2]) for r in rows]


def labelled(conn: Connection, label: str, tokens: Sequence[str]) -> set[str]:
    """Which of ``tokens`` carry ``label``."""
    rows = conn.execute("SELECT token FROM mirror_contact_labels WHERE label = ?", (label,))
    wanted = set(tokens)
    return {r[0] for r in rows if r[0] in wanted}


# -- threads awaiting our reply, for list_conversations --------------------------------------


@dataclass(frozen=True)
class ThreadRow:
    token: str
    name: str | None
    phone: str | None
    messages: int
    inbound: int
    awaiting_since: int
    last_at: int
    last_text: str


def awaiting_threads(
    conn: Connection, *, start: int | None, end: int | None, offset: int, limit: int
) -> tuple[list[ThreadRow], int]:
    """Threads whose last message is inbound, longest waiting first (then by token), with the last
    message in [start, end) when given; one page and the total."""
    cond, args = "t.awaiting_since IS NOT NULL", list[object]()
    if start is not None:
        cond += " AND t.last_at >= ?"
        args.append(start)
    if end is not None:
        cond += " AND t.last_at < ?"
        args.append(end)
    total = int(conn.execute(f"SELECT COUNT(*) FROM mirror_threads t WHERE {cond}", args).fetchone()[0])
    rows = conn.execute(
        f"""SELECT t.token, c.name, c.phone, t.messages, t.inbound, t.awaiting_since, t.last_at,
                  (SELECT m.text FROM mirror_messages m WHERE m.token = t.token ORDER BY m.at DESC, m.id DESC LIMIT 1)
                    AS last_text
            FROM mirror_threads t LEFT JOIN mirror_contacts c ON c.token = t.token
            WHERE {cond} ORDER BY t.awaiting_since, t.token LIMIT ? OFFSET ?""",
        [*args, limit, offset],
    ).fetchall()
    return [ThreadRow(*r) for r in rows], total
