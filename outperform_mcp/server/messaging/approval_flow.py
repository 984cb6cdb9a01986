"""How a send reaches a human's approval: prepare, ask (dialog, page or host), then finish.

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
from typing import Annotated, Literal

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
from pydantic import BaseModel, Field

from ...guard.campaigns import join_campaign
from ...guard.model import Draft
from ...guard.preview import DIALOG_FIRST
from ...guard.service import Channel, GuardError, Prepared, SendService
from ...store.journal import ApprovalRecord
from ..deps import Ctx, deps
from ..errors import upstream
from ..sdk_private import transport_session_id
from .approval_page import APPROVAL_PATH
from .send_results import NEXT, SendResult, Status, prepared_result, report, status_of

MODERN = "2026-07-28"


# -- who is asking ---------------------------------------------------------------------------


def client_key(ctx: Ctx, service: SendService) -> str:
    """The client an approval is bound to: bearer client and MCP session over HTTP; otherwise the
    client's declared name/version within this process (stdio serves exactly one client)."""
    parts = []
    access = get_access_token()
    if access is not None:
        parts.append(f"auth:{access.client_id}")
    # The transport's own session id (validated by it), not a header value the client could pick.
    session_id = transport_session_id(ctx.session)
    if session_id:
        parts.append(f"session:{session_id}")
    if not parts:
        params = ctx.session.client_params
        info = params.client_info if params else None
        parts.append(f"client:{info.name}/{info.version}" if info else "client:unknown")
        parts.append(f"process:{service.boot_id}")
    return "|".join(parts)


def service_of(ctx: Ctx) -> SendService:
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
    service = service_of(ctx)
    channel: Channel = "none" if service.mode == "none" else "host" if service.mode == "host" else "pending"
    try:
        with upstream():
            prepared = await service.prepare(
                draft,
                client_key(ctx, service),
                channel=channel,
                resume=_modern(ctx) and ctx.input_responses is not None,
                dry_run=dry_run,
            )
    except GuardError as exc:
        raise ToolError(str(exc)) from None
    if prepared.approval is not None and (draft.kind == "template" or draft.campaign):
        await join_campaign(service.store, prepared.approval.id, prepared.plan.draft, service.clock())
    return prepared


async def prepare_message(ctx: Ctx, token: str, text: str, instance_id: str | None, dry_run: bool) -> Prepared:
    draft = Draft("session", (token,), text=text, instance_id=instance_id)
    return await _prepare(ctx, draft, dry_run)


async def prepare_template(
    ctx: Ctx,
    tokens: list[str],
    template: str,
    params: list[str],
    per_recipient: dict[str, list[str]] | None,
    instance_id: str | None,
    dry_run: bool,
    campaign: str | None,
) -> Prepared:
    draft = Draft(
        "template",
        tuple(tokens),
        template=template,
        params=tuple(params),
        instance_id=instance_id,
        per_recipient=tuple((t, tuple(p)) for t, p in (per_recipient or {}).items()),
        campaign=campaign,
    )
    return await _prepare(ctx, draft, dry_run)


async def _ask(ctx: Ctx, prepared: Prepared) -> Elicit[Approve] | Answer:
    service = service_of(ctx)
    if prepared.state != "ready" or service.mode != "auto":
        return Answer("skip")
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    # A bare `elicitation: {}` (from before modes existed) means form support.
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return Answer("page")
    assert prepared.approval is not None
    await service.set_channel(prepared.approval.id, "elicitation")
    text = prepared.preview
    base = _base_url(ctx)
    if base and len(prepared.plan.items) > DIALOG_FIRST:
        text = await service.linked_preview(prepared, base + APPROVAL_PATH)
    if _modern(ctx):
        # The client answers by retrying the call; the SDK pins the answer to this exact text.
        return Elicit(text, Approve)
    if not ctx.session.can_send_request:
        return Answer("page")
    request = types.ElicitRequest(
        params=types.ElicitRequestFormParams(message=text, requested_schema=render_elicitation_schema(Approve))
    )
    try:
        result = await ctx.session.send_request(
            request,
            types.ElicitResult,
            request_read_timeout_seconds=service.settings.answer_timeout,
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


async def ask_message(ctx: Ctx, prepared: Annotated[Prepared, Resolve(prepare_message)]) -> Elicit[Approve] | Answer:
    return await _ask(ctx, prepared)


async def ask_template(ctx: Ctx, prepared: Annotated[Prepared, Resolve(prepare_template)]) -> Elicit[Approve] | Answer:
    return await _ask(ctx, prepared)


# -- turning outcomes into results -------------------------------------------------------------


async def finish(ctx: Ctx, prepared: Prepared, answer: ElicitationResult[Approve]) -> SendResult:
    service = service_of(ctx)
    approval = prepared.approval
    if prepared.state == "refused":
        return prepared_result(prepared, "refused", NEXT["refused"])
    if prepared.state == "dry_run":
        return prepared_result(
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
                "not sent twice. " + NEXT.get(status_of(current), "")
            )
        return report(current, note=note)
    client = client_key(ctx, service)
    if service.mode == "none":
        with upstream():
            # Planned moments ago in this same call: no second round of look-ups.
            return report(await service.approve_and_send(approval.id, by="none", client=client, recheck=False))
    if service.mode == "host":
        result = prepared_result(
            prepared,
            "awaiting_commit",
            "Nothing sent yet. Show the user every recipient and the exact text above. Only if the user "
            "explicitly agrees, call commit_send with this approval_id and commit_code before expires_at.",
        )
        result.commit_code = service.commit_code(approval.id)
        return result
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
        seconds = f"{service.settings.answer_timeout:g}"
        batch = await service.reject(
            approval.id, by="elicitation", note=f"no answer within {seconds} s", status="expired"
        )
        return report(batch, "expired", f"No answer within {seconds} s. Nothing was sent.")
    status: Status = "declined" if action == "decline" else "cancelled"
    return report(await service.reject(approval.id, by="elicitation", note=f"{status} by the user"), status)


def _base_url(ctx: Ctx) -> str | None:
    d = deps(ctx)
    base = d.settings.public_url or d.public_url
    return base.rstrip("/") if base else None


def _public_url(ctx: Ctx) -> str:
    base = _base_url(ctx)
    if not base:
        raise ToolError(
            "cannot ask for approval: this client shows no approval dialog (elicitation) and the approval "
            "page has no address; set OUTPERFORM_PUBLIC_URL or OUTPERFORM_APPROVAL_MODE=host"
        )
    return base


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
        timeout = service.settings.answer_timeout
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
    result = prepared_result(
        prepared,
        "pending_approval",
        "Nothing sent yet. Ask the user to open approval_url, check the recipients and text, and approve or "
        "reject it there; the message is sent when they approve. Do not open the link yourself. "
        "Check the outcome later with list_sends(approval_id=...).",
    )
    result.approval_url = url
    return result
