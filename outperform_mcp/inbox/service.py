"""The inbox service: what the tools and resources ask of the inbox, over intake and the store.

Webhook events come in through ``Intake`` (group commit, see intake.py); after each commit the
service wakes agents waiting on those contacts and reports the change through ``on_change`` (the
server turns it into MCP notifications). Reads are the operations the tools need: list since a
cursor, mark handled, a summary, one contact's messages, wait for a reply.

Contacts arrive as phone numbers; tokens are found lazily through the API by a background task
(never on the acknowledgement path) and when a tool asks for a contact.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .. import phones
from ..api.client import OutPerformClient
from ..api.errors import OutPerformError
from ..settings import InboxSettings
from ..store import inbox as events
from ..store import replies
from ..store.db import Store
from ..store.inbox import Marked, Page, Summary
from ..store.optout import OptOutRules
from .intake import InboxUnavailable, Intake, ReceiverStats
from .waiters import Waiters

__all__ = ["InboxChange", "InboxService", "InboxUnavailable", "Marked", "Page", "ReceiverStats", "Summary"]

log = logging.getLogger(__name__)

# A phone the API could not match is asked about again only after this long.
RESOLVE_COOLDOWN_S = 600.0
PRUNE_EVERY_S = 3600.0
# With a shared store a waiter also looks again this often: a process that stored an event and died
# before telling the others must not leave a waiter hanging until its timeout.
SHARED_RECHECK_S = 1.0
NOTIFY_CHUNK = 50  # events per notification (PostgreSQL payloads stop at 8,000 bytes)
CHANNEL = "inbox"


@dataclass(frozen=True)
class InboxChange:
    """What changed: the inbox as a whole, and these contacts' messages (by token)."""

    tokens: tuple[str, ...] = ()


OnChange = Callable[[InboxChange], Awaitable[None]]


async def _ignore(_: InboxChange) -> None:
    return None


class UnknownContact(LookupError):
    """No contact has this token; the message says what to do instead."""

    def __init__(self, token: str) -> None:
        super().__init__(f"no contact with token {token}: use search_contacts to find the right token")
        self.token = token


class InboxService:
    def __init__(
        self,
        store: Store,
        api: OutPerformClient | None,
        settings: InboxSettings,
        *,
        country: str,
        on_change: OnChange = _ignore,
        opt_out: OptOutRules,
    ) -> None:
        self.store = store
        # Numbers written without a country code are read in this country (OUTPERFORM_DEFAULT_COUNTRY).
        self.country = country
        self.api = api
        self.settings = settings
        self.intake = Intake(store, settings, self._after_commit, opt_out)
        self.stats = self.intake.stats
        self.waiters = Waiters()
        # Told after every change that is committed; the server turns it into MCP notifications.
        self.on_change = on_change
        self._resolve_send: MemoryObjectSendStream[str]
        self._resolve_recv: MemoryObjectReceiveStream[str]
        self._resolve_send, self._resolve_recv = anyio.create_memory_object_stream[str](1000)
        self._resolve_tried: dict[str, float] = {}
        self.instance = secrets.token_hex(6)  # tells this process's own notifications apart

    def _key(self, phone: str) -> str:
        return phones.key(phone, self.country)

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run intake, the contact resolver and the pruner until cancelled."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._resolver)
            tg.start_soon(self._pruner)
            if self.store.shared:
                tg.start_soon(self._listen)
            await tg.start(self.intake.run)
            task_status.started()

    async def ingest(self, event: events.NewEvent) -> events.Stored:
        """Store one event durably; returns once it is committed (or was already stored)."""
        return await self.intake.ingest(event)

    async def _after_commit(self, fresh: Sequence[events.Stored]) -> None:
        """New (not duplicate) events are on disk: wake waiters, report the change, link contacts."""
        self.waiters.wake(s.phone for s in fresh)
        await self.on_change(InboxChange(tuple(dict.fromkeys(s.token for s in fresh if s.token))))
        for phone in dict.fromkeys(s.phone for s in fresh if s.token is None):
            self._queue_resolve(phone)
        if self.store.shared:
            for start in range(0, len(fresh), NOTIFY_CHUNK):
                chunk = fresh[start : start + NOTIFY_CHUNK]
                payload = {
                    "from": self.instance,
                    "phones": list(dict.fromkeys(s.phone for s in chunk)),
                    "tokens": list(dict.fromkeys(s.token for s in chunk if s.token)),
                }
                await self.store.notify(CHANNEL, json.dumps(payload))

    async def _listen(self) -> None:
        """Events another process stored: wake this process's waiters and listening clients too."""
        async for payload in self.store.listen(CHANNEL):
            try:
                if payload is None:  # reconnected: anything may have arrived meanwhile
                    self.waiters.wake_all()
                    await self.on_change(InboxChange())
                    continue
                note = json.loads(payload)
                if note.get("from") == self.instance:
                    continue
                self.waiters.wake(str(p) for p in note.get("phones", ()))
                await self.on_change(InboxChange(tuple(str(t) for t in note.get("tokens", ()))))
            except Exception:  # a malformed note must not stop listening
                log.exception("handling an inbox notification from another process failed")

    # -- waiting -----------------------------------------------------------------------------

    async def wait_for(self, phone: str, *, since: int, seconds: float) -> list[events.Event]:
        """Unread messages from ``phone`` with id > ``since``, waiting up to ``seconds`` for the first.

        Holds no database connection while waiting; cancelling the caller cancels the wait.
        """
        phone = self._key(phone)
        deadline = anyio.current_time() + seconds
        while True:
            with self.waiters.watch(phone) as arrived:
                found = await self.store.read(
                    lambda conn: events.list_events(conn, since=since, phone=phone, unread_only=True, limit=50)
                )
                if found:
                    return found
                left = deadline - anyio.current_time()
                if left <= 0:
                    return []
                with anyio.move_on_after(min(left, SHARED_RECHECK_S) if self.store.shared else left):
                    await arrived.wait()

    # -- contacts ----------------------------------------------------------------------------

    def _queue_resolve(self, phone: str) -> None:
        if self.api is None:
            return
        with suppress(anyio.WouldBlock):  # full: the next list call or event retries it
            self._resolve_send.send_nowait(phone)

    async def _resolver(self) -> None:
        async for phone in self._resolve_recv:
            try:
                await self.resolve_phone(phone)
            except Exception:  # a background helper must never die
                log.exception("linking an inbound message to its contact failed")

    async def resolve_phone(self, phone: str, *, force: bool = False) -> str | None:
        """Find the contact token for ``phone`` through the API and link stored events to it."""
        phone = self._key(phone)
        if self.api is None:
            return None
        last = self._resolve_tried.get(phone)
        if not force and last is not None and time.monotonic() - last < RESOLVE_COOLDOWN_S:
            return None
        self._resolve_tried[phone] = time.monotonic()
        try:
            match = await self.api.find_by_phone(phone)
        except OutPerformError as exc:
            log.info("could not look up an inbound contact: %s", exc)
            return None
        if match is None:
            return None
        await self.link(phone, match.token)
        return match.token

    async def link(self, phone: str, token: str) -> None:
        phone = self._key(phone)
        linked = await self.store.run(lambda conn: events.link(conn, phone=phone, token=token))
        self._resolve_tried.pop(phone, None)
        if linked:
            await self.on_change(InboxChange((token,)))

    async def resolve_unlinked(self, numbers: Sequence[str], *, most: int = 5, budget_s: float = 2.0) -> bool:
        """Try to link a few phones not looked up yet, bounded in number and time (used before showing
        events to an agent; the background resolver covers the rest). True if any lookup ran."""
        fresh = [p for p in dict.fromkeys(self._key(p) for p in numbers) if p not in self._resolve_tried]
        if self.api is None or not fresh:
            return False
        with anyio.move_on_after(budget_s):
            async with anyio.create_task_group() as tg:
                for phone in fresh[:most]:
                    tg.start_soon(self.resolve_phone, phone)
        return True

    async def phone_for_token(self, token: str) -> str | None:
        """The phone of a contact token: from local state, else from the API (then remembered)."""
        phone = await self.store.read(lambda conn: events.phone_for_token(conn, token))
        if phone is not None or self.api is None:
            return phone
        found = await self.api.get_contact(token)
        if found is None or not self._key(found.phone):
            return None
        await self.link(found.phone, found.token)
        return self._key(found.phone)

    async def phone_of(self, token: str) -> str:
        """The phone of a contact token, or ``UnknownContact``; API failures propagate."""
        phone = await self.phone_for_token(token)
        if phone is None:
            raise UnknownContact(token)
        return phone

    # -- the operations the tools and resources need -----------------------------------------

    async def latest_id(self) -> int:
        return await self.store.read(events.latest_id)

    async def list_since(
        self, since: int, *, token: str | None = None, unread_only: bool = True, limit: int = 20
    ) -> tuple[Page, bool]:
        """Messages after the cursor ``since``, oldest first, at most ``limit``; and whether more match.

        Contacts not linked yet are looked up first (bounded), so the page shows tokens where it can.
        """
        phone = await self.phone_of(token) if token else None
        found = await self.store.read(
            lambda conn: events.page(conn, since=since, phone=phone, unread_only=unread_only, limit=limit + 1)
        )
        shown, more = found.events[:limit], len(found.events) > limit
        unlinked = [e.phone for e in shown if e.token is None]
        if unlinked and await self.resolve_unlinked(unlinked):
            shown = await self.store.read(lambda conn: events.by_ids(conn, [e.id for e in shown]))
        return Page(shown, found.unread), more

    async def mark_handled(
        self, *, ids: Sequence[int] = (), up_to: int | None = None, token: str | None = None
    ) -> Marked:
        phone = await self.phone_of(token) if token else None
        now = datetime.now(UTC)
        return await self.store.run(lambda conn: events.mark(conn, ids=ids, up_to=up_to, phone=phone, at=now))

    async def summary(self, recent: int) -> Summary:
        """Unread and stored counts, the cursor, and the latest ``recent`` unread messages (newest first)."""
        return await self.store.read(lambda conn: events.summary(conn, recent=recent))

    async def contact_messages(self, token: str, limit: int) -> Page:
        """The latest ``limit`` messages of one contact, newest first, with its unread count."""
        phone = await self.phone_of(token)
        return await self.store.read(
            lambda conn: events.page(conn, since=0, phone=phone, unread_only=False, limit=limit, newest_first=True)
        )

    async def wait_for_reply(
        self, token: str, *, phone: str, since: int | None, seconds: float
    ) -> tuple[list[events.Event], int]:
        """Unread messages from the contact (``phone``: ``phone_of(token)``, looked up once by the
        caller) after ``since``, waiting up to ``seconds`` for the first; and the cursor waited from.
        By default that is the cursor just before our last message to them went out, so a reply that
        came in before this call is not missed (else: now)."""
        if since is None:
            baseline = await self.store.read(lambda conn: replies.reply_cursor_for_contact(conn, token))
        else:
            baseline = since
        return await self.wait_for(phone, since=baseline, seconds=seconds), baseline

    # -- retention ---------------------------------------------------------------------------

    async def prune(self, now: datetime | None = None) -> int:
        days = self.settings.inbox_retention_days
        if days <= 0:
            return 0
        before = (now or datetime.now(UTC)) - timedelta(days=days)
        total = 0
        while True:  # small transactions so webhook commits are never held up for long
            removed = await self.store.run(lambda conn: events.prune(conn, before=before))
            total += removed
            if removed < 5000:
                break
        if total:
            log.info("pruned %d inbound messages older than %d days", total, days)
        return total

    async def _pruner(self) -> None:
        while True:
            try:
                await self.prune()
            except Exception:
                log.exception("pruning old inbound messages failed")
            await anyio.sleep(PRUNE_EVERY_S)
