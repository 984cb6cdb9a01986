"""Campaigns: what became of each template batch, and who to follow up with."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ...guard.campaigns import CampaignView, view
from ...store import campaigns as store_campaigns
from ...store.journal import WENT_OUT
from ..deps import Ctx, deps
from ..registry import tool


class CampaignSummary(BaseModel):
    id: str
    name: str
    created_at: datetime
    templates: list[str]
    recipients: int
    sent: int = Field(description="Recipients a message went out to")


class CampaignList(BaseModel):
    items: list[CampaignSummary] = Field(description="Newest first")


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
    id: str
    name: str
    created_at: datetime
    as_of: datetime
    recipients: list[RecipientOut]
    reached: int = Field(description="Recipients a message went out to")
    replied: int
    reply_rate: float | None = Field(None, description="replied / reached")
    median_first_reply_minutes: float | None = None
    opted_out: int
    no_reply_tokens: list[str] = Field(
        description="Reached, no reply, not opted out, first message older than no_reply_days: pass as tokens"
    )
    inbox_cursor: int = Field(description="Pass as since to list_inbound/wait_for_reply for replies")
    errors: list[str] = Field([], description="Threads the API could not read (replies there may be missing)")


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


@tool("messaging", title="List campaigns", read_only=True, open_world=False)
async def list_campaigns(ctx: Ctx) -> CampaignList:
    """The 30 newest campaigns (template batches) with recipient counts; get_campaign for one."""
    limit = 30

    def read(conn: sqlite3.Connection) -> list[CampaignSummary]:
        out = []
        for c in store_campaigns.recent(conn, limit):
            rows = store_campaigns.sends(conn, c.id)
            tokens = {r.token for r in rows}
            reached = {r.token for r in rows if r.status in WENT_OUT}
            templates = list(dict.fromkeys(r.template for r in rows if r.template))
            out.append(
                CampaignSummary(
                    id=c.id,
                    name=c.name,
                    created_at=c.created_at,
                    templates=templates,
                    recipients=len(tokens),
                    sent=len(reached),
                )
            )
        return out

    return CampaignList(items=await deps(ctx).store.run(read))


@tool("messaging", title="Campaign report", read_only=True)
async def get_campaign(
    ctx: Ctx,
    campaign: Annotated[str, Field(min_length=1, max_length=80, description="Campaign id or name")],
    no_reply_days: Annotated[
        float, Field(ge=0, le=365, description="no_reply_tokens: messaged at least this many days ago")
    ] = 0,
) -> CampaignReport:
    """A campaign per recipient (status, first reply, opt-out) and in total (reply rate, median
    reply time); no_reply_tokens feed a follow-up send_template."""
    d = deps(ctx)
    found = await view(d.api, d.store, campaign, d.guard.clock())
    if found is None:
        raise ToolError(f"no campaign {campaign!r}: list_campaigns shows their ids and names")
    return report_of(found, no_reply_days)
