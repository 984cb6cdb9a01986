"""The inbox service: durable intake of inbound events, wake-ups for waiting agents, change events.

One writer task owns intake. Webhook requests queue their event and wait; the writer takes
everything queued (up to ``inbox_commit_batch_max``), commits it in one transaction, answers all of
those requests, then wakes agents waiting on those contacts and publishes ``ResourceUpdated`` on the
subscription bus. A request is therefore answered only after its event is on disk, and a burst
costs one commit per batch instead of one per event (group commit).

Contacts arrive as phone numbers; tokens are found lazily through the API by a background task
(never on the acknowledgement path) and when a tool asks for a contact.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated

from ..api.client import OutPerformClient
from ..api.errors import OutPerformError
from ..store import contacts
from ..store import inbox as events
from ..store.db import Store
from ..store.optout import DEFAULT, OptOutRules
from .inbox_settings import InboxSettings
from .push import HandshakeSubscriptions

log = logging.getLogger(__name__)

INBOX_URI = "outperform://inbox"
WEBHOOK_PATH = "/webhooks/outperform"
# A phone the API could not match is asked about again only after this long.
RESOLVE_COOLDOWN_S = 600.0
PRUNE_EVERY_S = 3600.0
QUEUE_SIZE = 10_000


def contact_uri(token: str) -> str:
    return f"{INBOX_URI}/{token}"


class InboxUnavailable(Exception):
    """The event could not be stored in time; the webhook answers 503 so OutPerform retries."""


@dataclass
class ReceiverStats:
    """Counts since this process started, shown in the inbox resource."""

    stored: int = 0
    duplicates: int = 0
    ignored: int = 0
    unauthorized: int = 0
    malformed: int = 0
    invalid: int = 0
    unknown_event: int = 0
    too_large: int = 0
    failed: int = 0
    last_event_at: str | None = None

    def as_dict(self) -> dict[str, int | str | None]:
        return asdict(self)


@dataclass
class _Pending:
    event: events.NewEvent
    done: anyio.Event = field(default_factory=anyio.Event)
    result: events.Stored | None = None
    error: BaseException | None = None


def same_number(a: str, b: str) -> bool:
    """Exact match on digits (an international ``00`` prefix aside). Deliberately strict: linking a
    message to the wrong contact is worse than leaving it unlinked."""

    def norm(phone: str) -> str:
        d = contacts.digits(phone)
        return d[2:] if d.startswith("00") else d

    return norm(a) == norm(b) != ""


class Inbox:
    def __init__(
        self,
        store: Store,
        bus: InMemorySubscriptionBus,
        api: OutPerformClient | None,
        settings: InboxSettings | None = None,
        opt_out: OptOutRules = DEFAULT,
    ) -> None:
        self.store = store
        self.opt_out = opt_out
        self.bus = bus
        self.api = api
        self.settings = settings or InboxSettings()
        self.stats = ReceiverStats()
        self.push = HandshakeSubscriptions(bus)
        self._send: MemoryObjectSendStream[_Pending]
        self._recv: MemoryObjectReceiveStream[_Pending]
        self._send, self._recv = anyio.create_memory_object_stream[_Pending](QUEUE_SIZE)
        self._resolve_send: MemoryObjectSendStream[str]
        self._resolve_recv: MemoryObjectReceiveStream[str]
        self._resolve_send, self._resolve_recv = anyio.create_memory_object_stream[str](1000)
        self._waiters: dict[str, set[anyio.Event]] = {}
        self._resolve_tried: dict[str, float] = {}
        self._running = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run the writer, the contact resolver, the pruner and the handshake-era pusher until cancelled."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._writer)
            tg.start_soon(self._resolver)
            tg.start_soon(self._pruner)
            await tg.start(self.push.run)
            self._running = True
            task_status.started()
            try:
                await anyio.sleep_forever()
            finally:
                self._running = False

    @property
    def running(self) -> bool:
        return self._running

    # -- intake ------------------------------------------------------------------------------

    async def ingest(self, event: events.NewEvent) -> events.Stored:
        """Store one event durably; returns once it is committed (or was already stored)."""
        if not self._running:
            raise InboxUnavailable("inbox is not running")
        pending = _Pending(event)
        try:
            self._send.send_nowait(pending)
        except anyio.WouldBlock:
            raise InboxUnavailable("intake queue is full") from None
        with anyio.move_on_after(self.settings.webhook_ack_timeout):
            await pending.done.wait()
        if not pending.done.is_set():
            raise InboxUnavailable("storing the event took too long")
        if pending.error is not None or pending.result is None:
            raise InboxUnavailable("the event could not be stored") from pending.error
        return pending.result

    async def _writer(self) -> None:
        window = self.settings.inbox_commit_window_ms / 1000
        limit = self.settings.inbox_commit_batch_max
        async for first in self._recv:
            batch = [first]
            if window:
                await anyio.sleep(window)
            while len(batch) < limit:
                try:
                    batch.append(self._recv.receive_nowait())
                except anyio.WouldBlock:
                    break
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        now = datetime.now(UTC)
        try:
            results = await self.store.run(
                lambda conn: [events.insert(conn, p.event, now, self.opt_out) for p in batch]
            )
            for pending, result in zip(batch, results, strict=True):
                pending.result = result
        except Exception:
            log.exception("storing %d inbound event(s) together failed; storing them one by one", len(batch))
            for pending in batch:
                try:
                    pending.result = await self._insert_one(pending.event, now)
                except Exception as exc:
                    log.exception("storing an inbound event failed")
                    pending.error = exc
        for pending in batch:
            pending.done.set()
        try:
            await self._after_commit([p.result for p in batch if p.result is not None])
        except Exception:  # the events are stored and acknowledged; a failed wake-up must not stop intake
            log.exception("notifying about new inbound messages failed")

    async def _insert_one(self, event: events.NewEvent, now: datetime) -> events.Stored:
        return await self.store.run(lambda conn: events.insert(conn, event, now, self.opt_out))

    async def _after_commit(self, stored: Sequence[events.Stored]) -> None:
        fresh = [s for s in stored if not s.duplicate]
        if not fresh:
            return
        self.stats.last_event_at = datetime.now(UTC).isoformat(timespec="seconds")
        for s in fresh:
            for waiter in self._waiters.get(s.phone, ()):
                waiter.set()
        uris = [INBOX_URI, *dict.fromkeys(contact_uri(s.token) for s in fresh if s.token)]
        for uri in uris:
            await self.bus.publish(ResourceUpdated(uri=uri))
        for phone in dict.fromkeys(s.phone for s in fresh if s.token is None):
            self._queue_resolve(phone)

    # -- waiting -----------------------------------------------------------------------------

    @contextmanager
    def watch(self, phone: str) -> Iterator[anyio.Event]:
        """An event set when a new message from ``phone`` is committed (register before checking the store)."""
        key = contacts.digits(phone)
        waiter = anyio.Event()
        self._waiters.setdefault(key, set()).add(waiter)
        try:
            yield waiter
        finally:
            group = self._waiters.get(key)
            if group is not None:
                group.discard(waiter)
                if not group:
                    del self._waiters[key]

    async def wait_for(self, phone: str, *, since: int, seconds: float) -> list[events.Event]:
        """Unread messages from ``phone`` with id > ``since``, waiting up to ``seconds`` for the first.

        Holds no database connection while waiting; cancelling the caller cancels the wait.
        """
        deadline = anyio.current_time() + seconds
        while True:
            with self.watch(phone) as arrived:
                found = await self.store.run(
                    lambda conn: events.list_events(conn, since=since, phone=phone, unread_only=True, limit=50)
                )
                if found:
                    return found
                left = deadline - anyio.current_time()
                if left <= 0:
                    return []
                with anyio.move_on_after(left):
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
        phone = contacts.digits(phone)
        if self.api is None:
            return None
        last = self._resolve_tried.get(phone)
        if not force and last is not None and time.monotonic() - last < RESOLVE_COOLDOWN_S:
            return None
        self._resolve_tried[phone] = time.monotonic()
        try:
            page = await self.api.list_contacts(search=phone, limit=10)
        except OutPerformError as exc:
            log.info("could not look up an inbound contact: %s", exc)
            return None
        match = next((c for c in page.items if same_number(c.phone, phone)), None)
        if match is None:
            return None
        await self.link(phone, match.token)
        return match.token

    async def link(self, phone: str, token: str) -> None:
        linked = await self.store.run(lambda conn: events.link(conn, phone=phone, token=token))
        self._resolve_tried.pop(contacts.digits(phone), None)
        if linked:
            await self.bus.publish(ResourceUpdated(uri=contact_uri(token)))
            await self.bus.publish(ResourceUpdated(uri=INBOX_URI))

    async def resolve_unlinked(self, phones: Sequence[str], *, most: int = 5, budget_s: float = 2.0) -> bool:
        """Try to link a few phones not looked up yet, bounded in number and time (used before showing
        events to an agent; the background resolver covers the rest). True if any lookup ran."""
        fresh = [p for p in dict.fromkeys(contacts.digits(p) for p in phones) if p not in self._resolve_tried]
        if self.api is None or not fresh:
            return False
        with anyio.move_on_after(budget_s):
            async with anyio.create_task_group() as tg:
                for phone in fresh[:most]:
                    tg.start_soon(self.resolve_phone, phone)
        return True

    async def phone_for_token(self, token: str) -> str | None:
        """The phone of a contact token: from local state, else from the API (then remembered)."""
        phone = await self.store.run(lambda conn: events.phone_for_token(conn, token))
        if phone is not None or self.api is None:
            return phone
        found = await self.api.get_contact(token)
        if found is None or not contacts.digits(found.phone):
            return None
        await self.link(found.phone, found.token)
        return contacts.digits(found.phone)

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
