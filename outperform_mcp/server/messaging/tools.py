"""Messaging toolset: send a WhatsApp message or template (each send approved by a human), read the log.

The approval conversation lives in ``approval_flow``; see docs/guard.md."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.elicitation import (
    ElicitationResult,
)
from mcp.server.mcpserver import Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from ...guard.campaigns import PENDING, tracking
from ...guard.service import GuardError, Prepared
from ...store.journal import ApprovalRecord, SendRecord
from ...textsafe import trim
from ..deps import Ctx
from ..errors import upstream
from ..params import ID_PATTERN, INSTANCE_PATTERN, Token
from ..registry import tool
from .approval_flow import (
    Approve,
    ask_message,
    ask_template,
    client_key,
    finish,
    prepare_message,
    prepare_template,
    service_of,
)
from .send_results import SendLog, SendLogEntry, SendResult, report

InstanceId = Annotated[
    str | None,
    Field(pattern=INSTANCE_PATTERN, description="Sending instance (default: configured)"),
]
DryRun = Annotated[bool, Field(description="Only preview; send nothing")]
CampaignName = Annotated[
    str | None,
    Field(min_length=1, max_length=80, description="Campaign to join or start"),
]
Recipient = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]  # described once, on the list
Param = str  # length and content are checked by the planner, with a clearer error


async def tracked(ctx: Ctx, result: SendResult) -> SendResult:
    """The result with its campaign and the inbox cursor to wait for replies from."""
    if result.status == "dry_run":
        return result
    found = await tracking(service_of(ctx).store, result.approval_id)
    result.campaign_id = found.campaign.id if found.campaign else None
    result.reply_cursor = found.reply_cursor
    return result


# -- tools -----------------------------------------------------------------------------------


@tool("messaging", title="Send WhatsApp message", read_only=False, destructive=True)
async def send_message(
    ctx: Ctx,
    token: Token,
    text: Annotated[str, Field(min_length=1, max_length=4096, description="Exact message text")],
    instance_id: InstanceId = None,
    dry_run: DryRun = False,
    *,
    prepared: Annotated[Prepared, Resolve(prepare_message)],
    answer: Annotated[ElicitationResult[Approve], Resolve(ask_message)],
) -> SendResult:
    """Send free text to one contact; only within 24 h of their last message, else use
    send_template. A human approves every send; status says what happened."""
    return await tracked(ctx, await finish(ctx, prepared, answer))


@tool("messaging", title="Send WhatsApp template", read_only=False, destructive=True)
async def send_template(
    ctx: Ctx,
    tokens: Annotated[list[Recipient], Field(min_length=1, max_length=200, description="Contact tokens")],
    template: Annotated[str, Field(min_length=1, max_length=512, description="Template name")],
    params: Annotated[
        list[Param],
        Field(max_length=20, description="In order; {first_name}/{name} filled per contact"),
    ] = [],  # noqa: B006
    per_recipient: Annotated[
        dict[str, list[Param]] | None,
        Field(description="Per token: own params"),
    ] = None,
    instance_id: InstanceId = None,
    dry_run: DryRun = False,
    campaign: CampaignName = None,
    *,
    prepared: Annotated[Prepared, Resolve(prepare_template)],
    answer: Annotated[ElicitationResult[Approve], Resolve(ask_template)],
) -> SendResult:
    """Send a template (list_templates) to contacts, also outside the 24-hour window; one human
    approval per batch, which is a campaign."""
    return await tracked(ctx, await finish(ctx, prepared, answer))


@tool("messaging", title="Commit a prepared send", read_only=False, destructive=True)
async def commit_send(
    ctx: Ctx,
    approval_id: Annotated[str, Field(pattern=ID_PATTERN, description="From send_message/template")],
    commit_code: Annotated[
        str, Field(pattern=ID_PATTERN, description="The commit_code returned with that approval_id")
    ],
) -> SendResult:
    """Send a prepared message (host approval mode). Call only after the user has seen the
    preview and explicitly agreed. Each approval_id sends at most once."""
    service = service_of(ctx)
    if service.mode != "host":
        raise ToolError("commit_send is only used in host approval mode")
    try:
        with upstream():
            batch = await service.approve_and_send(
                approval_id, by="host", client=client_key(ctx, service), commit_code=commit_code
            )
    except GuardError as exc:
        raise ToolError(str(exc)) from None
    return await tracked(ctx, report(batch))


@tool("messaging", title="List sends", read_only=True)
async def list_sends(
    ctx: Ctx,
    status: Annotated[
        Literal["pending", "sent", "failed", "unknown", "not_sent"] | None,
        Field(description="pending: awaiting approval; not_sent: rejected, expired or refused"),
    ] = None,
    token: Annotated[str | None, Field(pattern=ID_PATTERN, description="Only this contact")] = None,
    approval_id: Annotated[
        str | None, Field(pattern=ID_PATTERN, description="Only this approval (from a send result)")
    ] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Entries to return")] = 20,
) -> SendLog:
    """Sends: sent, awaiting approval, failed or outcome unknown, newest first, with quota use.
    Check it before sending again, or to follow an approval_id."""
    service = service_of(ctx)
    groups: dict[str, tuple[str, ...]] = {
        "pending": PENDING,
        "sent": ("sent",),
        "failed": ("failed",),
        "unknown": ("unknown",),
        "not_sent": ("rejected", "expired", "refused"),
    }
    rows = await service.history(
        statuses=groups[status] if status else (), token=token, approval_id=approval_id, limit=limit
    )
    usage = await service.usage()
    s = service.settings
    return SendLog(
        items=[_log_entry(row, approval) for row, approval in rows],
        approval_mode=s.approval_mode,
        sending_enabled=s.sending_enabled,
        sent_last_hour=usage.last_hour,
        hour_limit=s.max_sends_per_hour or None,
        sent_last_day=usage.last_day,
        day_limit=s.max_sends_per_day or None,
    )


def _log_entry(row: SendRecord, approval: ApprovalRecord) -> SendLogEntry:
    return SendLogEntry(
        send_id=row.id,
        approval_id=row.approval_id,
        status=row.status,
        approval_status=approval.status,
        to=row.token,
        name=row.name,
        phone=row.phone,
        template=row.template,
        text=trim(row.text, 300),
        at=row.sending_at or row.created_at,
        message_id=row.message_id,
        error=row.error,
        repeat_of=row.repeat_of,
        expires_at=approval.expires_at if approval.status == "pending" else None,
    )
