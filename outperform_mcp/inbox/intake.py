"""Durable intake of webhook events with group commit.

One writer task owns intake. Webhook requests queue their event and wait; the writer takes
everything queued (up to ``inbox_commit_batch_max``), commits it in one transaction, answers all of
those requests, then hands the new events to ``after_commit``. A request is therefore answered
only after its event is on disk, and a burst costs one commit per batch instead of one per event.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..settings import InboxSettings
from ..store import inbox as events
from ..store.db import Store
from ..store.optout import OptOutRules

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000

AfterCommit = Callable[[Sequence[events.Stored]], Awaitable[None]]


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


class Intake:
    def __init__(self, store: Store, settings: InboxSettings, after_commit: AfterCommit, opt_out: OptOutRules) -> None:
        self.opt_out = opt_out
        self.store = store
        self.settings = settings
        self.stats = ReceiverStats()
        self._after_commit = after_commit
        self._send: MemoryObjectSendStream[_Pending]
        self._recv: MemoryObjectReceiveStream[_Pending]
        self._send, self._recv = anyio.create_memory_object_stream[_Pending](QUEUE_SIZE)
        self._running = False

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The writer, until cancelled."""
        self._running = True
        task_status.started()
        try:
            await self._writer()
        finally:
            self._running = False

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
            rules = self.opt_out
            results = await self.store.run(lambda conn: [events.insert(conn, p.event, now, rules) for p in batch])
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
        fresh = [p.result for p in batch if p.result is not None and not p.result.duplicate]
        if not fresh:
            return
        self.stats.last_event_at = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            await self._after_commit(fresh)
        except Exception:  # the events are stored and acknowledged; a failed wake-up must not stop intake
            log.exception("notifying about new inbound messages failed")

    async def _insert_one(self, event: events.NewEvent, now: datetime) -> events.Stored:
        return await self.store.run(lambda conn: events.insert(conn, event, now, self.opt_out))
