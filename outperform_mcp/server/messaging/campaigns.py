"""Campaigns: what became of each template batch, and who to follow up with (one read-only tool)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ...guard.campaigns import CampaignView, view
from ...store import campaigns as store_campaigns
from ...store.campaigns import Campaign
from ...store.journal import WENT_OUT, SendRecord
from ..deps import Ctx, deps
from ..registry import tool


class CampaignSummary(BaseModel):
    id: str
    name: str
    created_at: datetime
    templates: list[str]
    recipients: int
    sent: int = Field(description="Recipients a message went out to")


class RecipientOut(BaseModel):
    token: str
    name: str
    status: str = Field(
        description="Of their latest message: sent, failed, unknown, pending, rejected, expired, refused"
    )
    sent_at: datetime | None = None
    replied_at: datetime | None = Field(None, description="First reply after our first message")
    opted_out_at: datetime | None = Field(None, description="Opted out after our message")


class CampaignReport(BaseModel):
    id: str | None = Field(None, description="Null when there are no campaigns yet")
    name: str | None = None
    created_at: datetime | None = None
    as_of: datetime
    recipients: list[RecipientOut] = []
    reached: int = Field(0, description="Recipients a message went out to")
    replied: int = 0
    reply_rate: float | None = Field(None, description="replied / reached")
    median_first_reply_minutes: float | None = None
    opted_out: int = 0
    no_reply_tokens: list[str] = Field(
        [], description="Reached, no reply, not opted out, first message older than no_reply_days: pass as tokens"
    )
    inbox_cursor: int | None = Field(None, description="Pass as since to list_inbound/wait_for_reply for replies")
    errors: list[str] = Field([], description="Threads the API could not read (replies there may be missing)")
    campaigns: list[CampaignSummary] = Field([], description="The 20 newest campaigns")
    note: str | None = None


def report_of(found: CampaignView, no_reply_days: float) -> CampaignReport:
    c = found.campaign
    return CampaignReport(
        id=c.id,
        name=c.name,
        created_at=c.created_at,
        as_of=found.as_of,
        recipients=[
            RecipientOut(
                token=r.token,
                name=r.name,
                status=r.status,
                sent_at=r.sent_at,
                replied_at=r.replied_at,
                opted_out_at=r.opted_out_at,
            )
            for r in found.recipients
        ],
        reached=len(found.reached),
        replied=len(found.replied),
        reply_rate=found.reply_rate,
        median_first_reply_minutes=found.median_first_reply_minutes,
        opted_out=len(found.opted_out),
        no_reply_tokens=[r.token for r in found.silent(no_reply_days)],
        inbox_cursor=found.inbox_cursor,
        errors=found.api_errors,
    )


def _summary(c: Campaign, rows: list[SendRecord]) -> CampaignSummary:
    return CampaignSummary(
        id=c.id,
        name=c.name,
        created_at=c.created_at,
        templates=list(dict.fromkeys(r.template for r in rows if r.template)),
        recipients=len({r.token for r in rows}),
        sent=len({r.token for r in rows if r.status in WENT_OUT}),
    )


@tool("messaging", title="Campaign report", read_only=True)
async def get_campaign(
    ctx: Ctx,
    campaign: Annotated[
        str | None, Field(min_length=1, max_length=80, description="Id or name (default: newest)")
    ] = None,
    no_reply_days: Annotated[float, Field(ge=0, le=365, description="Days of silence for no_reply_tokens")] = 0,
) -> CampaignReport:
    """A campaign's results: per recipient status, reply, opt-out; reply rate, median reply time;
    no_reply_tokens feed a follow-up send_template."""
    d = deps(ctx)
    recent = [
        _summary(c, rows) for c, rows in await d.store.run(lambda conn: store_campaigns.recent_with_sends(conn, 20))
    ]
    key = campaign or (recent[0].id if recent else None)
    if key is None:
        return CampaignReport(as_of=d.guard.clock(), note="No campaigns yet: every send_template batch starts one.")
    found = await view(d.api, d.store, key, d.guard.clock(), d.guard.opt_out)
    if found is None:
        names = ", ".join(f"{c.name} ({c.id})" for c in recent[:10]) or "none yet"
        raise ToolError(f"no campaign {campaign!r}; recent campaigns: {names}")
    report = report_of(found, no_reply_days)
    report.campaigns = recent
    return report
