"""The send service: plan a send, record it, get it approved, send it at most once.

Knows nothing of MCP: the tools decide *how* a human is asked (elicitation, page, host) and call
``prepare`` / ``approve_and_send`` / ``reject`` / ``decide_from_page`` here. Every step is written
to the journal first; the only way to the API is ``_send_one``, behind a conditional UPDATE.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import anyio

from .. import phones
from ..api.client import OutPerformClient
from ..api.errors import OutPerformError, SendOutcomeUnknown
from ..settings import GuardSettings
from ..store import journal, leases
from ..store.db import Connection, Store, StoreUnavailable
from ..store.optout import OptOutRules
from . import policy
from .links import link_secret, load_key
from .model import Draft, GuardError, Plan, Recipient, Refusal, digest_of, now_utc
from .planner import Planner
from .preview import render_text
from .templates import Catalogue

__all__ = ["BatchStatus", "Channel", "GuardError", "Prepared", "SendService"]

log = logging.getLogger(__name__)

Channel = Literal["elicitation", "page", "host", "none", "pending"]
PrepState = Literal["ready", "refused", "dry_run", "expired", "decided"]


@dataclass
class Prepared:
    """The outcome of ``prepare``: a pending approval to ask about, or why there is none."""

    state: PrepState
    plan: Plan
    approval: journal.ApprovalRecord | None = None
    preview: str = ""


@dataclass
class BatchStatus:
    approval: journal.ApprovalRecord
    sends: list[journal.SendRecord]
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.sends:
            out[s.status] = out.get(s.status, 0) + 1
        return out


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _rows_digest(rows: list[journal.SendRecord]) -> str:
    first = rows[0]
    return digest_of(
        first.kind,
        first.instance_id,
        first.template,
        [(r.token, r.name, r.phone, r.text, list(r.params)) for r in rows],
    )


class SendService:
    def __init__(
        self,
        api: OutPerformClient,
        store: Store,
        settings: GuardSettings,
        catalogue: Catalogue | None = None,
        *,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.api = api
        self.store = store
        self.settings = settings
        self.catalogue = catalogue if catalogue is not None else Catalogue.load(settings.templates_file)
        self.clock = clock
        self.opt_out = OptOutRules(settings.opt_out_phrases)
        self.planner = Planner(api, store, settings, self.catalogue, clock, self.opt_out)
        # Identifies this process: stdio clients are bound to it (one process serves one client).
        self.boot_id = secrets.token_hex(6)
        self._form_key = secrets.token_bytes(32)
        private = store.path is not None and str(store.path) != ":memory:"
        self._link_key = load_key(store.path.parent if private and store.path else None)

    @property
    def mode(self) -> str:
        return self.settings.approval_mode

    # -- start-up ---------------------------------------------------------------------------

    async def start(self) -> journal.Recovery:
        if self.mode == "none":
            log.warning(
                "OUTPERFORM_APPROVAL_MODE=none: messages are sent WITHOUT a human's approval "
                "(policy checks only). Use this only for trusted automations."
            )
        if not self.settings.sending_enabled:
            log.warning("OUTPERFORM_SENDING_ENABLED=false: every send will be refused")
        if self.store.shared:
            # Every process must derive the same page links and accept the same form posts; recovery
            # runs as a job on one process at a time (see server.runtime), not at each start.
            self._link_key, self._form_key = await self.store.run(
                lambda conn: (leases.shared_key(conn, "approval-links"), leases.shared_key(conn, "approval-forms"))
            )
            return journal.Recovery(0, 0)
        return await self.recover()

    async def recover(self) -> journal.Recovery:
        """Settle what a process that is gone left mid-way. Never sends anything."""
        now = self.clock()
        shared = self.store.shared

        def run(conn: Connection) -> journal.Recovery:
            found = journal.recover(conn, now, shared=shared)
            journal.expire_stale(conn, now)
            return found

        found = await self.store.run(run)
        if found.unknown or found.not_sent:
            log.warning(
                "send journal: %d message(s) were being sent when the server stopped (outcome unknown, "
                "not retried); %d claimed but never sent (marked failed)",
                found.unknown,
                found.not_sent,
            )
        return found

    # -- preparing an approval --------------------------------------------------------------

    async def prepare(
        self,
        draft: Draft,
        client: str,
        *,
        channel: Channel,
        resume: bool = False,
        dry_run: bool = False,
    ) -> Prepared:
        """Plan the send and find or create its approval, bound to (payload digest, client).

        ``resume`` is true when this call is the client's retry carrying an answer to a question
        asked earlier (2026-07-28 input-required flow): it then reports what became of that
        approval (expired, decided) instead of asking again.
        """
        plan = await self.planner.plan(draft)
        if plan.refusals:
            return Prepared("refused", plan)
        if dry_run:
            return Prepared("dry_run", plan, preview=self._preview(plan, "(dry run)", self.clock()))
        digest = plan.digest
        now = self.clock()
        ttl = timedelta(seconds=self.settings.approval_ttl)

        def run(conn: Connection) -> tuple[PrepState, journal.ApprovalRecord]:
            journal.expire_stale(conn, now)
            latest = journal.latest_approval(conn, digest=digest, client=client)
            if latest is not None:
                if latest.status == "pending":
                    return "ready", latest
                recent = latest.decided_at is not None and latest.decided_at >= now - ttl
                if resume and latest.created_at >= now - 2 * ttl:
                    return ("expired" if latest.status == "expired" else "decided"), latest
                if recent and latest.status in ("approved", "used"):
                    # A retried call: report the first one's outcome, never send twice.
                    return "decided", latest
            approval_id = secrets.token_urlsafe(12)
            auto = channel == "none"
            journal.insert_approval(
                conn,
                approval_id=approval_id,
                client=client,
                digest=digest,
                kind=plan.draft.kind,
                channel=channel,
                status="approved" if auto else "pending",
                allowed_because=plan.allowed_because,
                created_at=now,
                expires_at=now + ttl,
                decided_by="none" if auto else None,
                sends=[
                    journal.NewSend(
                        seq=i.seq,
                        token=i.recipient.token,
                        name=i.recipient.name,
                        phone=i.recipient.phone,
                        kind=plan.draft.kind,
                        text=i.text,
                        template=plan.draft.template,
                        params=i.params,
                        instance_id=plan.draft.instance_id,
                        content_key=i.content_key,
                        repeat_of=i.repeat.send_id if i.repeat else None,
                    )
                    for i in plan.items
                ],
                send_status="approved" if auto else "prepared",
            )
            created = journal.get_approval(conn, approval_id)
            assert created is not None
            return "ready", created

        state, approval = await self.store.run(run)
        prepared = Prepared(state, plan, approval)
        if state == "ready":
            prepared.preview = self._preview(plan, approval.id, approval.expires_at)
        return prepared

    def _preview(self, plan: Plan, approval_id: str, expires_at: datetime, page_url: str | None = None) -> str:
        return render_text(
            plan.draft,
            plan.items,
            plan.allowed_because,
            approval_id=approval_id,
            expires_at=expires_at,
            digest=plan.digest,
            page_url=page_url,
        )

    async def linked_preview(self, prepared: Prepared, base_url: str) -> str:
        """The dialog text for a large batch: its first messages and a link to the page listing all.

        The link's secret is derived from the approval, so a retried question (2026-07-28, where the
        answer is pinned to the exact text) shows the same text; only its hash is stored."""
        approval = prepared.approval
        assert approval is not None
        secret = hmac.new(self._form_key, f"dialog:{approval.id}".encode(), hashlib.sha256).hexdigest()[:32]
        await self.store.run(lambda conn: journal.set_secret_hash(conn, approval.id, _hash(secret)))
        url = f"{base_url}/{approval.id}/{secret}"
        return self._preview(prepared.plan, approval.id, approval.expires_at, url)

    async def set_channel(self, approval_id: str, channel: Channel) -> None:
        await self.store.run(lambda conn: journal.set_channel(conn, approval_id, channel))

    async def issue_link_secret(self, approval_id: str) -> str:
        """The approval page link's secret: the same for an approval every time it is asked for, so
        a re-called send does not kill the link the human already opened. Only its hash is stored."""
        secret = link_secret(self._link_key, approval_id)
        await self.store.run(lambda conn: journal.set_secret_hash(conn, approval_id, _hash(secret)))
        return secret

    # -- decisions --------------------------------------------------------------------------

    async def reject(self, approval_id: str, *, by: str, note: str, status: str = "rejected") -> BatchStatus:
        """The human said no (or did not answer): the approval and its messages are closed, unsent."""
        now = self.clock()

        def run(conn: Connection) -> None:
            journal.transition(
                conn, approval_id, from_status="pending", to_status=status, at=now, by=by, note=note, send_status=status
            )

        await self.store.run(run)
        return await self.status(approval_id)

    def commit_code(self, approval_id: str) -> str:
        """Host mode: handed only to the call that prepared the send; commit_send must present it.
        Over stateless HTTP (2026-07-28) this is all that tells the preparing client from another
        one holding the same bearer token, since approval ids are visible in list_sends."""
        return link_secret(self._link_key, approval_id, "commit")

    def _check_client(
        self,
        approval: journal.ApprovalRecord | None,
        approval_id: str,
        client: str | None,
        code: str | None = None,
    ) -> None:
        if approval is None:
            raise GuardError(f"no approval {approval_id}: check the id with list_sends")
        if client is not None and not hmac.compare_digest(approval.client, client):
            raise GuardError("this approval was prepared for another client; prepare the send again from this one")
        if code is not None and not hmac.compare_digest(self.commit_code(approval_id), code):
            raise GuardError(
                "commit_code does not match this approval: pass the commit_code returned with it "
                "by send_message/send_template (only the call that prepared a send can commit it)"
            )

    async def approve_and_send(
        self,
        approval_id: str,
        *,
        by: str,
        client: str | None = None,
        recheck: bool = True,
        commit_code: str | None = None,
    ) -> BatchStatus:
        """Approve (if still pending) and send, once. ``client`` set: only the client that asked may.

        ``recheck``: run the policy again on the contacts as they are now (opt-out, window, allow-list,
        the contact still there with the number shown), since the human may have answered long after
        the send was planned. Only a send planned within this same call skips it.
        """
        before = await self.status_or_none(approval_id)
        self._check_client(before.approval if before else None, approval_id, client, commit_code)
        assert before is not None
        late: list[Refusal] = []
        if recheck and before.approval.status in ("pending", "approved") and before.sends:
            late = await self._recheck(before.sends)
        now = self.clock()

        def claim(conn: Connection) -> tuple[list[journal.SendRecord], list[Refusal]]:
            journal.expire_stale(conn, now)
            approval = journal.get_approval(conn, approval_id)
            self._check_client(approval, approval_id, client)
            assert approval is not None
            if late and approval.status in ("pending", "approved"):
                journal.transition(
                    conn,
                    approval_id,
                    from_status=approval.status,
                    to_status="refused",
                    at=now,
                    note="; ".join(r.reason for r in late),
                    send_status="refused",
                )
                return [], late
            if approval.status == "pending":
                journal.transition(
                    conn,
                    approval_id,
                    from_status="pending",
                    to_status="approved",
                    at=now,
                    by=by,
                    send_status="approved",
                )
            elif approval.status != "approved":
                return [], []  # used, rejected, expired or refused: nothing more to do
            rows = journal.sends_of(conn, approval_id)
            if not rows or _rows_digest(rows) != approval.digest:
                note = "the recorded payload no longer matches what was approved; nothing sent"
                journal.transition(
                    conn,
                    approval_id,
                    from_status="approved",
                    to_status="refused",
                    at=now,
                    note=note,
                    send_status="refused",
                )
                log.error("approval %s: journal payload does not match its digest; refused", approval_id[:8])
                return [], [Refusal("tampered", note, "prepare the send again")]
            _, refusals = policy.switch_and_quota(self.settings, journal.usage(conn, now), len(rows))
            if refusals:
                journal.transition(
                    conn,
                    approval_id,
                    from_status="approved",
                    to_status="refused",
                    at=now,
                    note=refusals[0].reason,
                    send_status="refused",
                )
                return [], refusals
            # The single-use gate: of two racing commits only one moves 'approved' to 'used'.
            if not journal.transition(conn, approval_id, from_status="approved", to_status="used", at=now):
                return [], []
            journal.claim_rows(conn, approval_id, self.store.process_id)
            return [r for r in rows if r.status == "approved"], []

        rows, refusals = await self.store.run(claim)
        for n, row in enumerate(rows):
            try:
                await self._send_one(row)
            except StoreUnavailable:
                await self._abandon(rows[n:])
                raise
        result = await self.status(approval_id)
        result.refusals = refusals
        return result

    async def _recheck(self, rows: list[journal.SendRecord]) -> list[Refusal]:
        """The policy's verdict on an approved batch now: what changed since it was planned."""
        first = rows[0]
        draft = Draft(
            first.kind,  # type: ignore[arg-type]
            tuple(r.token for r in rows),
            text=first.text if first.kind == "session" else None,
            template=first.template,
            params=tuple(first.params),
            instance_id=first.instance_id,
        )
        found = await self.planner.recipients(draft.tokens)
        refusals: list[Refusal] = []
        people: list[Recipient] = []
        for row in rows:
            person = found.get(row.token)
            shown = row.name or row.token
            if person is None:
                refusals.append(
                    Refusal(
                        "unknown_contact",
                        f"contact {shown} no longer exists",
                        "find the contact again with search_contacts and prepare the send again",
                        row.token,
                    )
                )
            elif phones.digits(person.phone) != phones.digits(row.phone):
                refusals.append(
                    Refusal(
                        "contact_changed",
                        f"the number of {shown} changed since the approval was asked",
                        "prepare the send again so the human sees the current number",
                        row.token,
                    )
                )
            else:
                people.append(person)
        _, more = policy.check_recipients(self.settings, draft, people, self.clock())
        return refusals + more

    async def _abandon(self, rows: list[journal.SendRecord]) -> None:
        """Claimed messages this call will not send (the journal failed): say so, if it can be written."""
        note = "not sent: the send journal could not be written (database unavailable)"
        now = self.clock()
        with anyio.CancelScope(shield=True), suppress(StoreUnavailable):
            await self.store.run(lambda conn: [journal.abandon(conn, r.id, now, note) for r in rows])

    async def _send_one(self, row: journal.SendRecord) -> None:
        try:
            marked = await self.store.run(
                lambda conn: journal.mark_sending(conn, row.id, self.clock(), self.store.process_id)
            )
        except StoreUnavailable:
            await self._abandon([row])
            raise
        if not marked:
            return
        status, message_id = "unknown", None
        error: str | None = "the send was interrupted; check the conversation"
        try:
            if row.kind == "session":
                result = await self.api.send_session_message(row.token, row.text, instance_id=row.instance_id)
            else:
                result = await self.api.send_template_message(
                    row.token, row.template or "", row.params, instance_id=row.instance_id
                )
            status, message_id, error = "sent", result.message_id, None
        except SendOutcomeUnknown as exc:
            status, error = "unknown", str(exc)
        except OutPerformError as exc:
            status, error = "failed", str(exc)
        finally:
            # Shielded: a cancelled call must still leave its row final ('unknown' if interrupted).
            with anyio.CancelScope(shield=True):
                await self.store.run(
                    lambda conn: journal.finish(
                        conn, row.id, status=status, at=self.clock(), message_id=message_id, error=error
                    )
                )
        if status != "sent":
            log.warning("send #%d %s: %s", row.id, status, error)

    # -- the approval page --------------------------------------------------------------------

    async def page_view(self, approval_id: str, secret: str) -> BatchStatus | None:
        """The batch behind a page link, or None when the link is wrong (no hint which part)."""
        now = self.clock()

        def run(conn: Connection) -> journal.ApprovalRecord | None:
            journal.expire_stale(conn, now)
            return journal.get_approval(conn, approval_id)

        approval = await self.store.run(run)
        if approval is None or approval.secret_hash is None:
            return None
        if not hmac.compare_digest(approval.secret_hash, _hash(secret)):
            return None
        return await self.status(approval_id)

    def form_token(self, approval: journal.ApprovalRecord) -> str:
        """Shown only inside the page; a decision must post it back (bound to the current link)."""
        message = f"{approval.id}:{approval.secret_hash}".encode()
        return hmac.new(self._form_key, message, hashlib.sha256).hexdigest()

    async def decide_from_page(self, approval_id: str, secret: str, token: str, approve: bool) -> BatchStatus | None:
        """Apply a decision posted from the page; None when the link, token or state does not allow one."""
        view = await self.page_view(approval_id, secret)
        if view is None or not hmac.compare_digest(self.form_token(view.approval), token):
            return None
        if view.approval.status != "pending":
            return None  # decided already: the link is dead, a replayed post changes nothing
        if approve:
            return await self.approve_and_send(approval_id, by="page")
        return await self.reject(approval_id, by="page", note="rejected on the approval page")

    # -- reading ----------------------------------------------------------------------------

    async def status_or_none(self, approval_id: str) -> BatchStatus | None:
        def run(conn: Connection) -> BatchStatus | None:
            journal.expire_stale(conn, self.clock())
            approval = journal.get_approval(conn, approval_id)
            return BatchStatus(approval, journal.sends_of(conn, approval_id)) if approval else None

        return await self.store.run(run)

    async def status(self, approval_id: str) -> BatchStatus:
        def run(conn: Connection) -> BatchStatus:
            approval = journal.get_approval(conn, approval_id)
            if approval is None:
                raise GuardError(f"no approval {approval_id}: check the id with list_sends")
            return BatchStatus(approval, journal.sends_of(conn, approval_id))

        return await self.store.read(run)

    async def wait_settled(self, approval_id: str, seconds: float) -> BatchStatus:
        """Wait until the approval is decided and its messages are final (or ``seconds`` pass)."""
        with anyio.move_on_after(seconds):
            while True:
                current = await self.status(approval_id)
                if current.approval.status not in ("pending", "approved") and all(
                    s.status in journal.FINAL for s in current.sends
                ):
                    return current
                await anyio.sleep(0.1)
        return await self.status(approval_id)

    async def history(
        self,
        *,
        statuses: tuple[str, ...] = (),
        token: str | None = None,
        approval_id: str | None = None,
        limit: int = 20,
    ) -> list[tuple[journal.SendRecord, journal.ApprovalRecord]]:
        now = self.clock()

        def run(conn: Connection) -> list[tuple[journal.SendRecord, journal.ApprovalRecord]]:
            journal.expire_stale(conn, now)
            return journal.list_sends(conn, statuses=statuses, token=token, approval_id=approval_id, limit=limit)

        return await self.store.run(run)

    async def usage(self) -> policy.Usage:
        now = self.clock()
        return await self.store.read(lambda conn: journal.usage(conn, now))
