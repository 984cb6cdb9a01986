"""Results of the send tools: what a send became, in words and fields a model can act on."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from ...guard.model import Refusal
from ...guard.service import BatchStatus, Prepared
from ...store.journal import FINAL, SendRecord

Status = Literal[
    "sent",
    "partly_sent",
    "failed",
    "unknown",
    "in_progress",
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


# One message of a send: to whom, the exact text, what became of it (no docstring: it would join the schema).
class OutgoingMessage(BaseModel):
    to: str = Field(description="Contact token")
    name: str
    phone: str
    text: str = Field(description="Exact text sent (template rendered); empty when the body is unknown")
    params: list[str] = Field([], description="Template parameters for this recipient, filled in")
    status: str | None = Field(None, description="prepared, approved, sending, sent, failed, unknown, …")
    send_id: int | None = None
    message_id: str | None = None
    error: str | None = None
    repeat_of: int | None = Field(None, description="An earlier send of the same message to this contact")


class RefusalOut(BaseModel):
    code: str
    reason: str
    way_out: str
    to: str | None = None

    @classmethod
    def of(cls, r: Refusal) -> RefusalOut:
        return cls(code=r.code, reason=r.reason, way_out=r.way_out, to=r.token)


class SendResult(BaseModel):
    status: Status
    message: str = Field(description="What happened and what to do next")
    approval_id: str | None = None
    approval_url: str | None = Field(None, description="Give to the user to approve; never open it yourself")
    commit_code: str | None = Field(None, description="host mode: pass to commit_send with approval_id")
    expires_at: datetime | None = None
    allowed_because: list[str] = []
    refusals: list[RefusalOut] = []
    messages: list[OutgoingMessage] = []
    campaign_id: str | None = Field(None, description="The campaign this batch belongs to (get_campaign)")
    reply_cursor: int | None = Field(None, description="Pass as since to wait_for_reply/list_inbound for replies")


class SendLogEntry(BaseModel):
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


class SendLog(BaseModel):
    items: list[SendLogEntry] = Field(description="Newest first")
    approval_mode: str
    sending_enabled: bool
    sent_last_hour: int
    hour_limit: int | None = None
    sent_last_day: int
    day_limit: int | None = None


def messages_of_plan(prepared: Prepared) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(
            to=i.recipient.token,
            name=i.recipient.name,
            phone=i.recipient.phone,
            text=i.text,
            params=list(i.params),
            repeat_of=i.repeat.send_id if i.repeat else None,
        )
        for i in prepared.plan.items
    ]


def messages_of_rows(rows: list[SendRecord]) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(
            to=r.token,
            name=r.name,
            phone=r.phone,
            text=r.text,
            params=r.params,
            status=r.status,
            send_id=r.id,
            message_id=r.message_id,
            error=r.error,
            repeat_of=r.repeat_of,
        )
        for r in rows
    ]


NEXT = {
    "sent": "Delivered to the API. Use list_sends to see it later; do not send it again.",
    "unknown": "The connection broke after the request was written: it may or may not have been delivered. "
    "It is never retried automatically; check get_conversation before sending anything again.",
    "failed": "Nothing was sent for the failed messages; the error says why.",
    "in_progress": "Another call is sending this approval right now; this call sent nothing. Do not send it "
    "again: follow the outcome with list_sends(approval_id=...).",
    "declined": "The user declined. Nothing was sent. Do not send it again unless the user asks.",
    "cancelled": "The user dismissed the approval. Nothing was sent.",
    "expired": "No approval in time. Nothing was sent. Call again if the user still wants it sent.",
    "rejected": "The user rejected it on the approval page. Nothing was sent.",
    "refused": "Refused by the sending policy. Nothing was sent; see refusals for why and what to do instead.",
}


def report(batch: BatchStatus, status: Status | None = None, note: str | None = None) -> SendResult:
    approval = batch.approval
    if status is None:
        status = status_of(batch)
    message = note or NEXT.get(status, "")
    if status == "partly_sent":
        message = f"Some messages were sent, some not ({_count_text(batch)}). {NEXT['unknown']}"
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
        messages=messages_of_rows(batch.sends),
    )


def _count_text(batch: BatchStatus) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(batch.counts.items()))


def status_of(batch: BatchStatus) -> Status:
    a = batch.approval.status
    if a == "pending":
        return "pending_approval"
    if a in ("rejected", "expired", "refused"):
        return a  # type: ignore[return-value]
    counts = batch.counts
    if any(s.status not in FINAL for s in batch.sends):
        return "in_progress"  # approved or being sent by another call (a racing commit, the page)
    if counts.get("sent") == len(batch.sends):
        return "sent"
    if not counts.get("sent") and counts.get("failed") == len(batch.sends):
        return "failed"
    if not counts.get("sent") and not counts.get("failed"):
        return "unknown"
    return "partly_sent"


def prepared_result(prepared: Prepared, status: Status, message: str) -> SendResult:
    approval = prepared.approval
    return SendResult(
        status=status,
        message=message,
        approval_id=approval.id if approval else None,
        expires_at=approval.expires_at if approval else None,
        allowed_because=prepared.plan.allowed_because,
        refusals=[RefusalOut.of(r) for r in prepared.plan.refusals],
        messages=messages_of_plan(prepared),
    )
