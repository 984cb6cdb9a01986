"""Filling and refreshing the mirror from the API: paged, bounded, resumable.

The first pass of each kind pages through everything from the page its checkpoint names; each
page is stored in one transaction with the checkpoint that moves past it, so a crash (even
``kill -9``) resumes at the first page not stored. Pages are fetched ``sync_concurrency`` at a time
and at most ``sync_rate`` requests per second, and stored in order.

Later passes are incremental: labels are one call; contacts are newest first, so paging stops at
the first page holding a contact already stored; conversations and chatbot sessions are read with
``start_date`` = the day of (the last pass's start − ``sync_overlap``), and conversations (latest
activity first) stop at the first page that ends with a thread untouched since then, or at the
first page that added no message and ends with a thread untouched since the last pass began (the
API filters by whole days, so without this a busy day would be re-read page by page on every
refresh). Records are upserted, so reading one twice is harmless. One pass runs at a time (a
lock), whoever asked: the schedule, a tool or the CLI.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio
import anyio.abc

from ..api.client import OutPerformClient
from ..api.errors import OutPerformError
from ..settings import MirrorSettings
from ..store import mirror, mirror_sql  # noqa: F401  (mirror_sql: the views, so the schema is whole)
from ..store.db import Connection, Store, existing
from ..store.optout import OptOutRules

log = logging.getLogger(__name__)
T = TypeVar("T")

# (kind, pages stored in this pass, records stored in this pass) -> None
Progress = Callable[[str, int, int], Awaitable[None]]


class Pacer:
    """At most ``rate`` starts per second, shared by concurrent fetches."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = anyio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = anyio.current_time()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            await anyio.sleep(delay)


@dataclass
class PassReport:
    calls: dict[str, int] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _older(thread: Any, since: int | None) -> bool:
    """Threads come latest activity first (assumption, as the emulator does): once a page ends with
    one untouched since ``since``, the pages after it hold nothing newer. A page that added nothing
    and ends before the last pass began is as good: every later thread ended before that pass, which
    read it (the overlap then only guards the threads that moved since)."""
    last = max((m.timestamp for m in thread.messages), default=None)
    return since is not None and last is not None and mirror.epoch(last) < since


class Mirror:
    def __init__(
        self,
        api: OutPerformClient,
        store: Store,
        settings: MirrorSettings | None = None,
        *,
        opt_out: OptOutRules,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.opt_out = opt_out  # the configured phrases, as the inbox and the send policy read them
        self.api = api
        self.store = store
        self.settings = settings or MirrorSettings()
        self.clock = clock
        self._lock = anyio.Lock()
        self._pacer = Pacer(self.settings.sync_rate)
        self._group: anyio.abc.TaskGroup | None = None
        self._started = False
        self._listeners: set[Progress] = set()
        self.last_error: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def attach(self, group: anyio.abc.TaskGroup) -> None:
        """Where the background loop runs once started (the server's service task group)."""
        self._group = group

    def start(self) -> None:
        """Start the background sync (first pass, then a refresh every ``sync_interval``). Idempotent;
        returns at once, so it never delays start-up or a tool."""
        if self._started or self._group is None:
            return
        self._started = True
        self._group.start_soon(self._loop)

    async def _loop(self) -> None:
        while True:
            try:
                await self.sync()
            except OutPerformError as exc:
                self.last_error = str(exc)
                log.warning("mirror sync failed, retrying at the next interval: %s", exc)
            except Exception as exc:  # a fault in the mirror must not stop the server it runs in
                self.last_error = f"internal error: {type(exc).__name__}"
                log.exception("mirror sync failed unexpectedly, retrying at the next interval")
            if not self.settings.sync_interval:
                return
            await anyio.sleep(self.settings.sync_interval)

    # -- reads -------------------------------------------------------------------------------

    async def read(self, fn: Callable[[Connection], T]) -> tuple[T, mirror.Freshness]:
        """Answer from the mirror: local webhook events and sends folded in first, then ``fn``, in one
        transaction, with how fresh the answer is."""
        return await self.store.run(mirror.answering(fn))

    async def refresh(self, *, max_seconds: float | None = None, progress: Progress | None = None) -> bool:
        """An incremental pass now (waiting for one in progress), bounded in time; True if it finished.
        While it waits for a pass someone else started, that pass's progress is reported too."""
        limit = max_seconds if max_seconds is not None else self.settings.refresh_max_seconds
        listeners = {progress} if progress is not None else set()
        self._listeners |= listeners
        try:
            with anyio.move_on_after(limit):
                await self.sync()
                return True
            return False
        finally:
            self._listeners -= listeners

    @property
    def waiting(self) -> int:
        """Callers waiting on a pass with progress to report (for tests and the status resource)."""
        return len(self._listeners)

    async def _report(self, progress: Progress | None, kind: str, pages: int, stored: int) -> None:
        """Tell the pass's own caller and everyone waiting on it; a listener that fails (its client
        went away) must not stop the pass."""
        for listener in [*([progress] if progress else []), *self._listeners]:
            try:
                await listener(kind, pages, stored)
            except Exception as exc:  # any listener fault is the listener's
                log.debug("mirror progress listener failed: %s", exc)

    # -- passes ------------------------------------------------------------------------------

    async def sync(self, *, progress: Progress | None = None) -> PassReport:
        """One pass over every kind: the first pass (resumed) where none finished, else a refresh."""
        async with self._lock:
            started = anyio.current_time()
            report = PassReport()
            for kind in mirror.KINDS:
                calls, stored = await self._sync_kind(kind, progress)
                report.calls[kind] = calls
                report.stored[kind] = stored
            report.seconds = round(anyio.current_time() - started, 3)
            self.last_error = None
            return report

    async def _state(self, kind: str) -> mirror.SyncState:
        return await self.store.run(lambda conn: mirror.sync_state(conn, kind))

    async def _sync_kind(self, kind: str, progress: Progress | None) -> tuple[int, int]:
        state = await self._state(kind)
        now = int(self.clock())
        if kind == "labels":
            await self._pacer.wait()
            labels = await self.api.list_labels()
            done = replace(state, complete=True, run_started_at=now, watermark=now, calls=state.calls + 1)

            await self.store.run(lambda conn: mirror.store_labels(conn, labels, done))
            return 1, len(labels)
        if not state.complete:
            return await self._first_pass(kind, state, now, progress)
        return await self._refresh(kind, state, now, progress)

    async def _fetch(self, kind: str, page: int, since: int | None) -> Sequence[Any]:
        await self._pacer.wait()
        size = self.settings.sync_page_size
        start = datetime.fromtimestamp(since, UTC).date() if since is not None else None
        if kind == "contacts":
            return (await self.api.list_contacts(page=page, limit=size)).items
        if kind == "conversations":
            return await self.api.list_conversations(start_date=start, page=page, limit=size)
        return await self.api.list_chatbot_conversations(start_date=start, page=page, limit=size)

    async def _store_page(
        self, kind: str, items: Sequence[Any], now: int, state: mirror.SyncState | None = None
    ) -> int:
        """Store one page, and the checkpoint past it, in one transaction."""
        return await self.store.run(lambda conn: mirror.store_page(conn, kind, items, now, self.opt_out, state))

    async def _known(self, items: Sequence[Any]) -> bool:
        tokens = [c.token for c in items]
        return bool(await self.store.run(lambda conn: existing(conn, "mirror_contacts", "token", tokens)))

    async def _first_pass(
        self, kind: str, state: mirror.SyncState, now: int, progress: Progress | None
    ) -> tuple[int, int]:
        # A resumed pass keeps its original start: whatever changed since is read by the next refresh.
        state = replace(state, run_started_at=state.run_started_at or now)
        size, width = self.settings.sync_page_size, self.settings.sync_concurrency
        calls = stored = pages = 0
        page = state.next_page
        finished = False
        while not finished:
            batch: dict[int, Sequence[Any]] = {}
            failed: list[OutPerformError] = []

            async def fetch(p: int, into: dict[int, Sequence[Any]], errors: list[OutPerformError]) -> None:
                try:
                    into[p] = await self._fetch(kind, p, None)
                except OutPerformError as exc:  # raised below as itself, not inside an exception group
                    errors.append(exc)

            async with anyio.create_task_group() as tg:
                for p in range(page, page + width):
                    tg.start_soon(fetch, p, batch, failed)
            if failed:
                raise failed[0]
            calls += width
            for p in range(page, page + width):
                items = batch[p]
                finished = len(items) < size
                state = replace(
                    state,
                    next_page=p + 1,
                    items=state.items + len(items),
                    calls=state.calls + (width if p == page else 0),
                    complete=finished,
                    watermark=state.run_started_at if finished else state.watermark,
                )
                if finished:
                    state = replace(state, next_page=1)
                await self._store_page(kind, items, now, state)
                stored += len(items)
                pages += 1
                await self._report(progress, kind, pages, stored)
                if finished:
                    break
            page += width
        return calls, stored

    async def _refresh(
        self, kind: str, state: mirror.SyncState, now: int, progress: Progress | None
    ) -> tuple[int, int]:
        since = None if kind == "contacts" else int((state.watermark or now) - self.settings.sync_overlap)
        size = self.settings.sync_page_size
        calls = stored = 0
        page = 1
        while True:
            items = await self._fetch(kind, page, since)
            calls += 1
            seen_before = kind == "contacts" and await self._known(items)
            new = await self._store_page(kind, items, now)
            stored += len(items)
            await self._report(progress, kind, page, stored)
            if len(items) < size or seen_before:
                break
            if kind == "conversations" and (
                _older(items[-1], since) or (not new and _older(items[-1], state.watermark))
            ):
                break
            page += 1
        done = replace(state, run_started_at=now, watermark=now, calls=state.calls + calls, error=None)
        await self.store.run(lambda conn: mirror.save_state(conn, done))
        return calls, stored
