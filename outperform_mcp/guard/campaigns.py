"""What became of a campaign: per recipient the send status, the first reply and any opt-out after
it, and the totals (reply rate, median time to first reply, opt-outs).

Replies come from two places: the inbox (webhooks this server stored) and the API's conversation
(which also holds replies that arrived while no receiver was listening). Customer text is never
returned here, only whether and when someone replied.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import anyio

from .. import phones
from ..api.client import OutPerformClient
from ..api.errors import OutPerformError
from ..api.models import Conversation, Message
from ..store import campaigns as store_campaigns
from ..store import mirror_queries
from ..store.campaigns import Campaign
from ..store.db import Connection, Store
from ..store.journal import WENT_OUT, SendRecord
from ..store.optout import OptOutRules
from ..store.replies import inbox_facts
from .model import Draft

_API_CONCURRENCY = 8
# Our send and the API's copy of it are one message when this close (clocks differ; as the mirror).
_SAME_MESSAGE = timedelta(minutes=5)
PENDING = ("prepared", "approved", "sending")


@dataclass
class RecipientState:
    token: str
    name: str
    phone: str
    status: str  # pending, sent, failed, unknown, rejected, expired, refused (its latest message)
    sent_at: datetime | None  # when its first message went out
    replied_at: datetime | None = None
    opted_out_at: datetime | None = None


@dataclass
class CampaignView:
    campaign: Campaign
    recipients: list[RecipientState]
    as_of: datetime
    inbox_cursor: int  # wait from here for replies to the campaign
    api_errors: list[str] = field(default_factory=list)

    @property
    def reached(self) -> list[RecipientState]:
        return [r for r in self.recipients if r.sent_at is not None]

    @property
    def replied(self) -> list[RecipientState]:
        return [r for r in self.reached if r.replied_at is not None]

    @property
    def reply_rate(self) -> float | None:
        reached = self.reached
        return round(len(self.replied) / len(reached), 3) if reached else None

    @property
    def median_first_reply_minutes(self) -> float | None:
        waits = [(r.replied_at - r.sent_at).total_seconds() / 60 for r in self.replied if r.replied_at and r.sent_at]
        return round(statistics.median(waits), 1) if waits else None

    @property
    def opted_out(self) -> list[RecipientState]:
        return [r for r in self.recipients if r.opted_out_at is not None]

    def silent(self, days: float = 0) -> list[RecipientState]:
        """Reached, no reply, not opted out, and the first message is at least ``days`` old."""
        cutoff = self.as_of - timedelta(days=days)
        return [
            r
            for r in self.reached
            if r.replied_at is None and r.opted_out_at is None and r.sent_at is not None and r.sent_at <= cutoff
        ]


def _status(row: SendRecord) -> str:
    return "pending" if row.status in PENDING else row.status


def _recipients(rows: Sequence[SendRecord]) -> list[RecipientState]:
    by_token: dict[str, RecipientState] = {}
    for row in rows:  # oldest first: the latest message sets the status, the first sets sent_at
        went_out = row.sending_at if row.status in WENT_OUT else None
        state = by_token.get(row.token)
        if state is None:
            state = by_token[row.token] = RecipientState(row.token, row.name, row.phone, _status(row), went_out)
        state.status = _status(row)
        state.sent_at = state.sent_at or went_out
    return list(by_token.values())


def _reply_in_thread(
    conv: Conversation, rows: Sequence[SendRecord], rules: OptOutRules
) -> tuple[datetime | None, datetime | None]:
    """First inbound message after our first campaign message in the API's thread, and the first
    opt-out after it. Our message is found by its exact text, else by time."""
    messages = conv.messages
    sent = [r for r in rows if r.sending_at is not None and r.status in WENT_OUT]
    if not sent:
        return None, None
    first = sent[0]
    moment = first.sending_at
    assert moment is not None
    ours = [i for i, m in enumerate(messages) if m.direction == "outbound"]
    # The same text may have gone out before (an earlier campaign): take the copy nearest in time.
    same = [i for i in ours if first.text and messages[i].text == first.text]
    if same:
        start = min(same, key=lambda i: abs(messages[i].timestamp - moment))
    else:  # the API's clock is not ours: the outbound copy nearest the send, within a few minutes
        near = [i for i in ours if abs(messages[i].timestamp - moment) <= _SAME_MESSAGE]
        if not near:
            return None, None
        start = min(near, key=lambda i: abs(messages[i].timestamp - moment))
    after = [m for m in messages[start + 1 :] if m.direction == "inbound"]
    # On our clock, as the send is: the thread's own gap after our message, added to the send.
    shift = moment - messages[start].timestamp
    replied = after[0].timestamp + shift if after else None
    opted = next((m.timestamp + shift for m in after if rules.matches(m.text)), None)
    return replied, opted


async def view(api: OutPerformClient, store: Store, key: str, now: datetime, rules: OptOutRules) -> CampaignView | None:
    """The campaign ``key`` (id or name) as of ``now``, or None when there is no such campaign.
    ``rules``: the configured opt-out phrases, the same the inbox and the send policy use."""

    found = await store.run(lambda conn: store_campaigns.load(conn, key))
    if found is None:
        return None
    campaign, rows, cursor = found.campaign, found.rows, found.cursor
    people = _recipients(rows)
    reached = [p for p in people if p.sent_at is not None]
    country = api.settings.default_country
    wanted = [(phones.key(p.phone, country), p.sent_at) for p in reached if p.sent_at is not None]
    facts = await store.run(lambda conn: inbox_facts(conn, wanted))
    for person, fact in zip(reached, facts, strict=True):
        if fact.replies:
            person.replied_at = fact.replies[0][0]
        person.opted_out_at = next((at for at, opt_out in fact.replies if opt_out), None) or fact.opted_out_at
    errors: list[str] = []
    limiter = anyio.CapacityLimiter(_API_CONCURRENCY)

    async def from_api(person: RecipientState) -> None:
        async with limiter:
            try:
                threads = await api.list_conversations(prospect_token=person.token, limit=1)
            except OutPerformError as exc:  # one unreadable thread must not hide the rest
                errors.append(f"{person.token}: {exc}")
                return
        conv = next((c for c in threads if c.token == person.token), None)
        if conv is None:
            return
        replied, opted = _reply_in_thread(conv, [r for r in rows if r.token == person.token], rules)
        if replied:  # only recipients without an inbox reply get here
            person.replied_at = replied
        if opted and person.opted_out_at is None:
            person.opted_out_at = opted

    async with anyio.create_task_group() as tg:
        for person in people:
            # A reply the inbox holds came with any opt-out too; only the others need a thread read.
            if person.sent_at is not None and person.replied_at is None:
                tg.start_soon(from_api, person)
    return CampaignView(campaign, people, now, cursor, errors[:5])


def _from_mirror(conn: Connection, found: store_campaigns.Loaded, now: datetime, rules: OptOutRules) -> CampaignView:
    """The campaign with replies and opt-outs read from the local mirror (the API's threads with the
    webhook events folded in), by the same rule as a thread read from the API: no API call."""
    people = _recipients(found.rows)
    for person in people:
        if person.sent_at is None:
            continue
        lines = mirror_queries.thread_from(conn, person.token, int(person.sent_at.timestamp()))
        thread = Conversation(
            token=person.token,
            messages=[Message(timestamp=datetime.fromtimestamp(at, UTC), direction=d, text=t) for at, d, t in lines],
        )
        person.replied_at, person.opted_out_at = _reply_in_thread(
            thread, [r for r in found.rows if r.token == person.token], rules
        )
    return CampaignView(found.campaign, people, now, found.cursor)


def mirror_view(conn: Connection, key: str, now: datetime, rules: OptOutRules) -> CampaignView | None:
    """The campaign ``key`` (id or name) answered from the mirror, or None when there is none."""
    found = store_campaigns.load(conn, key)
    return None if found is None else _from_mirror(conn, found, now, rules)


def mirror_views(
    conn: Connection, start: datetime, end: datetime, now: datetime, rules: OptOutRules
) -> list[CampaignView]:
    """Every campaign created in [start, end), oldest first, answered from the mirror."""
    return [_from_mirror(conn, found, now, rules) for found in store_campaigns.created_between(conn, start, end)]


async def join_campaign(store: Store, approval_id: str, draft: Draft, now: datetime) -> Campaign:
    """Put a prepared batch into its campaign (named, else one of its own named after the template)."""
    what = draft.template or "messages"
    default = f"{what} {now:%Y-%m-%d %H:%M}"
    return await store.run(
        lambda conn: store_campaigns.attach(conn, approval_id, name=draft.campaign, default_name=default, at=now)
    )


@dataclass(frozen=True)
class Tracking:
    campaign: Campaign | None
    reply_cursor: int


async def tracking(store: Store, approval_id: str | None) -> Tracking:
    """The campaign of a batch and the inbox cursor to wait for its replies from."""
    campaign, cursor = await store.run(lambda conn: store_campaigns.tracking(conn, approval_id))
    return Tracking(campaign, cursor)
