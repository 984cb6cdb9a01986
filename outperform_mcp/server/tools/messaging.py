"""Messaging toolset: send a WhatsApp message or template (each send approved by a human), read the log.

How the human is asked (``OUTPERFORM_APPROVAL_MODE=auto``): form elicitation when the client
declares it; otherwise the approval page (as URL elicitation where supported, else a link the
model hands to the user). ``host`` mode returns a prepared send that ``commit_send`` releases;
``none`` sends after the policy checks only. See docs/guard.md.

The prepare step runs as a ``Resolve`` resolver, so on 2026-07-28 (where the client answers by
retrying the call) the retried call finds the same prepared approval (payload digest + client)
and the SDK accepts the answer only for the exact preview that was shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import mcp.types as types
from mcp import MCPError, UrlElicitationRequiredError
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.elicitation import (
    AcceptedElicitation,
    CancelledElicitation,
    DeclinedElicitation,
    ElicitationResult,
    render_elicitation_schema,
)
from mcp.server.mcpserver import Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.message import ServerMessageMetadata
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, ConfigDict, Field

from ...guard.model import Draft, Refusal
from ...guard.service import BatchStatus, Channel, GuardError, Prepared, SendService
from ...store.journal import ApprovalRecord, SendRecord
from ...textsafe import trim
from ..deps import Ctx, deps
from ..errors import upstream
from ..registry import tool
from .params import Token

MODERN = "2026-07-28"
APPROVAL_PATH = "/approvals"

InstanceId = Annotated[
    str | None,
    Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Sending instance (default: configured)"),
]
DryRun = Annotated[bool, Field(description="Return exactly what would be sent; send nothing, ask nobody")]

Status = Literal[
    "sent",
    "partly_sent",
    "failed",
    "unknown",
    "dry_run",
    "pending_approval",
    "awaiting_commit",
    "declined",
    "cancelled",
    "expired",
    "rejected",
    "refused",
]


# -- output models ---------------------------------------------------------------------------


def _untitled(schema: dict[str, Any]) -> None:
    # Generated titles repeat the field names and cost context on every tools/list.
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)


class _Out(BaseModel):
    model_config = ConfigDict(json_schema_extra=_untitled)


class MessageOut(_Out):
    to: str = Field(description="Contact token")
    name: str
    phone: str
    text: str = Field(description="Exact text sent (template rendered); empty when the body is unknown")
    status: str | None = Field(None, description="prepared, approved, sending, sent, failed, unknown, …")
    send_id: int | None = None
    message_id: str | None = None
    error: str | None = None
    repeat_of: int | None = Field(None, description="An earlier send of the same message to this contact")


class RefusalOut(_Out):
    code: str
    reason: str
    way_out: str
    to: str | None = None

    @classmethod
    def of(cls, r: Refusal) -> RefusalOut:
        return cls(code=r.code, reason=r.reason, way_out=r.way_out, to=r.token)


class SendResult(_Out):
    status: Status
    message: str = Field(description="What happened and what to do next")
    approval_id: str | None = None
    approval_url: str | None = Field(None, description="Give to the user to approve; never open it yourself")
    expires_at: datetime | None = None
    allowed_because: list[str] = []
    refusals: list[RefusalOut] = []
    messages: list[MessageOut] = []


class SendLogEntry(_Out):
    send_id: int
    approval_id: str
    status: str = Field(description="prepared, approved, sending, sent, failed, unknown, rejected, expired, refused")
    approval_status: str = Field(description="pending, approved, used, rejected, expired, refused")
    to: str
    name: str
    phone: str
    template: str | None = None
    text: str
    at: datetime = Field(description="When it was sent (or prepared, if never sent)")
    message_id: str | None = None
    error: str | None = None
    repeat_of: int | None = None
    expires_at: datetime | None = Field(None, description="For a pending approval: when it lapses")


class SendLog(_Out):
    items: list[SendLogEntry] = Field(description="Newest first")
    approval_mode: str
    sending_enabled: bool
    sent_last_hour: int
    hour_limit: int | None = None
    sent_last_day: int
    day_limit: int | None = None


# -- who is asking ---------------------------------------------------------------------------


def client_key(ctx: Ctx, service: SendService) -> str:
    """The client an approval is bound to: bearer client and MCP session over HTTP; otherwise the
    client's declared name/version within this process (stdio serves exactly one client)."""
    parts = []
    access = get_access_token()
    if access is not None:
        parts.append(f"auth:{access.client_id}")
    # The transport's own session id (validated by it), not a header value the client could pick.
    session_id = getattr(getattr(ctx.session, "_connection", None), "session_id", None)
    if session_id:
        parts.append(f"session:{session_id}")
    if not parts:
        params = ctx.session.client_params
        info = params.client_info if params else None
        parts.append(f"client:{info.name}/{info.version}" if info else "client:unknown")
        parts.append(f"process:{service.boot_id}")
    return "|".join(parts)


def _service(ctx: Ctx) -> SendService:
    return deps(ctx).guard


def _modern(ctx: Ctx) -> bool:
    version = ctx.protocol_version
    return version is not None and is_version_at_least(version, MODERN)


# -- resolvers: prepare, then ask --------------------------------------------------------------


class Approve(BaseModel):
    """What the elicitation form asks: one explicit yes."""

    send: bool = Field(title="Send exactly these messages now", description="Tick to send; leave unticked to cancel")


@dataclass(frozen=True)
class Answer:
    """An answer obtained without the SDK's Elicit marker (or no question at all)."""

    kind: Literal["skip", "form", "page"]
    action: Literal["accept", "decline", "cancel", "timeout", "none"] = "none"


async def _prepare(ctx: Ctx, draft: Draft, dry_run: bool) -> Prepared:
    service = _service(ctx)
    channel: Channel = "none" if service.mode == "none" else "host" if service.mode == "host" else "pending"
    try:
        with upstream():
            return await service.prepare(
                draft,
                client_key(ctx, service),
                channel=channel,
                resume=_modern(ctx) and ctx.input_responses is not None,
                dry_run=dry_run,
            )
    except GuardError as exc:
        raise ToolError(str(exc)) from None


async def _prepare_message(ctx: Ctx, token: str, text: str, instance_id: str | None, dry_run: bool) -> Prepared:
    return await _prepare(ctx, Draft("session", (token,), text=text, instance_id=instance_id), dry_run)


async def _prepare_template(
    ctx: Ctx, tokens: list[str], template: str, params: list[str], instance_id: str | None, dry_run: bool
) -> Prepared:
    draft = Draft("template", tuple(tokens), template=template, params=tuple(params), instance_id=instance_id)
    return await _prepare(ctx, draft, dry_run)


async def _ask(ctx: Ctx, prepared: Prepared) -> Elicit[Approve] | Answer:
    service = _service(ctx)
    if prepared.state != "ready" or service.mode != "auto":
        return Answer("skip")
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    # A bare `elicitation: {}` (from before modes existed) means form support.
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return Answer("page")
    assert prepared.approval is not None
    await service.set_channel(prepared.approval.id, "elicitation")
    if _modern(ctx):
        # The client answers by retrying the call; the SDK pins the answer to this exact text.
        return Elicit(prepared.preview, Approve)
    if not ctx.session.can_send_request:
        return Answer("page")
    request = types.ElicitRequest(
        params=types.ElicitRequestFormParams(
            message=prepared.preview, requested_schema=render_elicitation_schema(Approve)
        )
    )
    try:
        result = await ctx.session.send_request(
            request,
            types.ElicitResult,
            request_read_timeout_seconds=service.settings.elicitation_timeout,
            metadata=ServerMessageMetadata(related_request_id=ctx.request_id),
        )
    except MCPError as exc:
        if exc.code == types.REQUEST_TIMEOUT:
            return Answer("form", "timeout")
        return Answer("form", "cancel")
    if result.action == "accept":
        try:
            approved = Approve.model_validate(result.content or {}).send
        except ValueError:
            approved = False
        return Answer("form", "accept" if approved else "decline")
    return Answer("form", "decline" if result.action == "decline" else "cancel")


async def _ask_message(ctx: Ctx, prepared: Annotated[Prepared, Resolve(_prepare_message)]) -> Elicit[Approve] | Answer:
    return await _ask(ctx, prepared)


async def _ask_template(
    ctx: Ctx, prepared: Annotated[Prepared, Resolve(_prepare_template)]
) -> Elicit[Approve] | Answer:
    return await _ask(ctx, prepared)


# -- turning outcomes into results -------------------------------------------------------------


def _messages_of_plan(prepared: Prepared) -> list[MessageOut]:
    return [
        MessageOut(
            to=i.recipient.token,
            name=i.recipient.name,
            phone=i.recipient.phone,
            text=i.text,
            repeat_of=i.repeat.send_id if i.repeat else None,
        )
        for i in prepared.plan.items
    ]


def _messages_of_rows(rows: list[SendRecord]) -> list[MessageOut]:
    return [
        MessageOut(
            to=r.token,
            name=r.name,
            phone=r.phone,
            text=r.text,
            status=r.status,
            send_id=r.id,
            message_id=r.message_id,
            error=r.error,
            repeat_of=r.repeat_of,
        )
        for r in rows
    ]


_NEXT = {
    "sent": "Delivered to the API. Use list_sends to see it later; do not send it again.",
    "unknown": "The connection broke after the request was written: it may or may not have been delivered. "
    "It is never retried automatically; check get_conversation before sending anything again.",
    "failed": "Nothing was sent for the failed messages; the error says why.",
    "declined": "The user declined. Nothing was sent. Do not send it again unless the user asks.",
    "cancelled": "The user dismissed the approval. Nothing was sent.",
    "expired": "No approval in time. Nothing was sent. Call again if the user still wants it sent.",
    "rejected": "The user rejected it on the approval page. Nothing was sent.",
    "refused": "Refused by the sending policy. Nothing was sent; see refusals for why and what to do instead.",
}


def report(batch: BatchStatus, status: Status | None = None, note: str | None = None) -> SendResult:
    approval = batch.approval
    if status is None:
        status = _status_of(batch)
    message = note or _NEXT.get(status, "")
    if status == "partly_sent":
        message = f"Some messages were sent, some not ({_count_text(batch)}). {_NEXT['unknown']}"
    elif status in ("sent", "failed", "unknown"):
        message = f"{_count_text(batch)}. {message}"
    if status == "refused" and approval.note and not batch.refusals:
        message = f"{message} ({approval.note})"
    return SendResult(
        status=status,
        message=message,
        approval_id=approval.id,
        expires_at=approval.expires_at if approval.status == "pending" else None,
        allowed_because=approval.allowed_because,
        refusals=[RefusalOut.of(r) for r in batch.refusals],
        messages=_messages_of_rows(batch.sends),
    )


def _count_text(batch: BatchStatus) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(batch.counts.items()))


def _status_of(batch: BatchStatus) -> Status:
    a = batch.approval.status
    if a == "pending":
        return "pending_approval"
    if a in ("rejected", "expired", "refused"):
        return a  # type: ignore[return-value]
    counts = batch.counts
    if counts.get("sent") == len(batch.sends):
        return "sent"
    if not counts.get("sent") and counts.get("failed") == len(batch.sends):
        return "failed"
    if not counts.get("sent") and not counts.get("failed"):
        return "unknown"
    return "partly_sent"


def _prepared_result(prepared: Prepared, status: Status, message: str) -> SendResult:
    approval = prepared.approval
    return SendResult(
        status=status,
        message=message,
        approval_id=approval.id if approval else None,
        expires_at=approval.expires_at if approval else None,
        allowed_because=prepared.plan.allowed_because,
        refusals=[RefusalOut.of(r) for r in prepared.plan.refusals],
        messages=_messages_of_plan(prepared),
    )


async def _finish(ctx: Ctx, prepared: Prepared, answer: ElicitationResult[Approve]) -> SendResult:
    service = _service(ctx)
    approval = prepared.approval
    if prepared.state == "refused":
        return _prepared_result(prepared, "refused", _NEXT["refused"])
    if prepared.state == "dry_run":
        return _prepared_result(
            prepared,
            "dry_run",
            "Dry run: nothing was sent and nobody was asked. This is exactly what would be sent "
            "(a real send still needs the user's approval).",
        )
    assert approval is not None
    if prepared.state == "expired":
        return report(await service.status(approval.id), "expired")
    if prepared.state == "decided":
        current = await service.status(approval.id)
        note = None
        if current.approval.status in ("used", "approved"):
            note = (
                f"This exact request was already approved at {current.approval.decided_at:%H:%M:%S} UTC and is "
                "not sent twice. " + _NEXT.get(_status_of(current), "")
            )
        return report(current, note=note)
    client = client_key(ctx, service)
    if service.mode == "none":
        with upstream():
            return report(await service.approve_and_send(approval.id, by="none", client=client))
    if service.mode == "host":
        return _prepared_result(
            prepared,
            "awaiting_commit",
            "Nothing sent yet. Show the user every recipient and the exact text above. Only if the user "
            "explicitly agrees, call commit_send with this approval_id before expires_at.",
        )
    if isinstance(answer, AcceptedElicitation) and isinstance(answer.data, Approve):
        return await _decided(service, approval, "accept" if answer.data.send else "decline", client)
    if isinstance(answer, DeclinedElicitation):
        return await _decided(service, approval, "decline", client)
    if isinstance(answer, CancelledElicitation):
        return await _decided(service, approval, "cancel", client)
    decision = answer.data if isinstance(answer, AcceptedElicitation) else None
    if isinstance(decision, Answer) and decision.kind == "form":
        return await _decided(service, approval, decision.action, client)
    return await _page(ctx, service, prepared)


async def _decided(service: SendService, approval: ApprovalRecord, action: str, client: str) -> SendResult:
    if action == "accept":
        with upstream():
            return report(await service.approve_and_send(approval.id, by="elicitation", client=client))
    if action == "timeout":
        seconds = f"{service.settings.elicitation_timeout:g}"
        batch = await service.reject(
            approval.id, by="elicitation", note=f"no answer within {seconds} s", status="expired"
        )
        return report(batch, "expired", f"No answer within {seconds} s. Nothing was sent.")
    status: Status = "declined" if action == "decline" else "cancelled"
    return report(await service.reject(approval.id, by="elicitation", note=f"{status} by the user"), status)


def _public_url(ctx: Ctx) -> str:
    d = deps(ctx)
    base = d.settings.public_url or d.public_url
    if not base:
        raise ToolError(
            "cannot ask for approval: this client shows no approval dialog (elicitation) and the approval "
            "page has no address; set OUTPERFORM_PUBLIC_URL or OUTPERFORM_APPROVAL_MODE=host"
        )
    return base.rstrip("/")


async def _page(ctx: Ctx, service: SendService, prepared: Prepared) -> SendResult:
    approval = prepared.approval
    assert approval is not None
    base = _public_url(ctx)
    secret = await service.issue_link_secret(approval.id)
    await service.set_channel(approval.id, "page")
    url = f"{base}{APPROVAL_PATH}/{approval.id}/{secret}"
    n = len(prepared.plan.items)
    ask = f"Review and approve {n} WhatsApp message{'s' if n > 1 else ''} before they are sent."
    caps = ctx.client_capabilities
    url_mode = caps is not None and caps.elicitation is not None and caps.elicitation.url is not None
    if url_mode and _modern(ctx):
        # The client shows the link to the human itself; the model never sees it.
        raise UrlElicitationRequiredError(
            [types.ElicitRequestURLParams(message=ask, url=url, elicitation_id=approval.id)]
        )
    if url_mode and ctx.session.can_send_request:
        timeout = service.settings.elicitation_timeout
        try:
            opened = await ctx.session.send_request(
                types.ElicitRequest(
                    params=types.ElicitRequestURLParams(message=ask, url=url, elicitation_id=approval.id)
                ),
                types.ElicitResult,
                request_read_timeout_seconds=timeout,
                metadata=ServerMessageMetadata(related_request_id=ctx.request_id),
            )
        except MCPError:
            opened = types.ElicitResult(action="cancel")
        if opened.action != "accept":
            status: Status = "declined" if opened.action == "decline" else "cancelled"
            return report(await service.reject(approval.id, by="page", note=f"{status} by the user"), status)
        settled = await service.wait_settled(approval.id, timeout)
        if settled.approval.status != "pending":
            return report(settled)
        return report(
            settled,
            "pending_approval",
            "The user opened the approval page but has not decided yet. Nothing is sent unless they approve "
            "there; check with list_sends(approval_id=...).",
        )
    result = _prepared_result(
        prepared,
        "pending_approval",
        "Nothing sent yet. Ask the user to open approval_url, check the recipients and text, and approve or "
        "reject it there; the message is sent when they approve. Do not open the link yourself. "
        "Check the outcome later with list_sends(approval_id=...).",
    )
    result.approval_url = url
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
    prepared: Annotated[Prepared, Resolve(_prepare_message)],
    answer: Annotated[ElicitationResult[Approve], Resolve(_ask_message)],
) -> SendResult:
    """Send free text to one contact; only within 24 h of their last message, else use
    send_template. A human approves every send; status says what happened."""
    return await _finish(ctx, prepared, answer)


@tool("messaging", title="Send WhatsApp template", read_only=False, destructive=True)
async def send_template(
    ctx: Ctx,
    tokens: Annotated[list[Token], Field(min_length=1, max_length=200, description="Recipient contact tokens")],
    template: Annotated[str, Field(min_length=1, max_length=512, description="Approved template name")],
    params: Annotated[
        list[Annotated[str, Field(max_length=1024)]], Field(max_length=20, description="Template parameters, in order")
    ] = [],  # noqa: B006
    instance_id: InstanceId = None,
    dry_run: DryRun = False,
    *,
    prepared: Annotated[Prepared, Resolve(_prepare_template)],
    answer: Annotated[ElicitationResult[Approve], Resolve(_ask_template)],
) -> SendResult:
    """Send an approved template to one or more contacts (works outside the 24-hour window).
    A human approves the whole batch at once; status says what happened."""
    return await _finish(ctx, prepared, answer)


@tool("messaging", title="Commit a prepared send", read_only=False, destructive=True)
async def commit_send(
    ctx: Ctx,
    approval_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$", description="From send_message/template")],
) -> SendResult:
    """Send a prepared message (host approval mode). Call only after the user has seen the
    preview and explicitly agreed. Each approval_id sends at most once."""
    service = _service(ctx)
    if service.mode != "host":
        raise ToolError("commit_send is only used in host approval mode")
    try:
        with upstream():
            batch = await service.approve_and_send(approval_id, by="host", client=client_key(ctx, service))
    except GuardError as exc:
        raise ToolError(str(exc)) from None
    return report(batch)


@tool("messaging", title="List sends", read_only=True)
async def list_sends(
    ctx: Ctx,
    status: Annotated[
        Literal["pending", "sent", "failed", "unknown", "not_sent"] | None,
        Field(description="pending: awaiting approval; not_sent: rejected, expired or refused"),
    ] = None,
    token: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$", description="Only this contact")] = None,
    approval_id: Annotated[
        str | None, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$", description="Only this approval (from a send result)")
    ] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Entries to return")] = 20,
) -> SendLog:
    """Sends: sent, awaiting approval, failed or outcome unknown, newest first, with quota use.
    Check it before sending again, or to follow an approval_id."""
    service = _service(ctx)
    groups: dict[str, tuple[str, ...]] = {
        "pending": ("prepared", "approved", "sending"),
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


def hidden_tools(service: SendService) -> tuple[str, ...]:
    """Tools this configuration does not offer: commit_send exists only in host mode."""
    return () if service.mode == "host" else ("commit_send",)
