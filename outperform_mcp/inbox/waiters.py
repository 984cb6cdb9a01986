"""Wake-ups for agents waiting on a contact's next message, keyed by phone number."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import anyio


class Waiters:
    def __init__(self) -> None:
        self._by_phone: dict[str, set[anyio.Event]] = {}

    def __len__(self) -> int:
        """How many waits are registered (for tests and the inbox resource)."""
        return sum(len(group) for group in self._by_phone.values())

    @contextmanager
    def watch(self, phone: str) -> Iterator[anyio.Event]:
        """An event set when a message from ``phone`` is committed (register before checking the store)."""
        waiter = anyio.Event()
        self._by_phone.setdefault(phone, set()).add(waiter)
        try:
            yield waiter
        finally:
            group = self._by_phone.get(phone)
            if group is not None:
                group.discard(waiter)
                if not group:
                    del self._by_phone[phone]

    def wake_all(self) -> None:
        for group in self._by_phone.values():
            for waiter in group:
                waiter.set()

    def wake(self, phones: Iterable[str]) -> None:
        for phone in phones:
            for waiter in self._by_phone.get(phone, ()):
                waiter.set()
