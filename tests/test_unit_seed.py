"""The emulator's seed is made once per (seed, size) and shifted to each reset's `now`: a shifted
seed must be exactly what generating for that `now` gives, and each reset must own its objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from outperform_mcp.sandbox import seed
from outperform_mcp.sandbox.seed import SeedData, _Generator

FIRST = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def wire(data: SeedData) -> list[Any]:
    return [
        [c.to_wire() for c in data.contacts],
        [[m.to_wire() for m in c.messages] for c in data.contacts],
        [b.to_wire() for b in data.chatbot],
    ]


@pytest.mark.parametrize(
    ("seed_value", "later"),
    [
        (42, timedelta(0)),
        (42, timedelta(days=3, seconds=17, microseconds=5)),
        (7, timedelta(days=-400)),  # a seed made for a later moment, asked for an earlier one
        (7, timedelta(hours=13, minutes=1)),  # across a date and a different hour of day
    ],
)
def test_a_shifted_seed_is_the_seed_made_for_that_moment(seed_value: int, later: timedelta) -> None:
    seed.generate(seed_value, FIRST)  # made (or already cached) for FIRST
    now = FIRST + later
    assert wire(seed.generate(seed_value, now)) == wire(_Generator(seed_value, now).generate())


def test_each_reset_owns_its_contacts_and_messages() -> None:
    one = seed.generate(42, FIRST)
    one.contacts[0].labels.append("changed")
    one.contacts[0].messages.clear()
    two = seed.generate(42, FIRST)
    assert "changed" not in two.contacts[0].labels
    assert two.contacts[0].messages or not _Generator(42, FIRST).generate().contacts[0].messages
    # A chatbot conversation points at the contact object of its own reset.
    tokens = {id(c) for c in two.contacts}
    assert all(id(b.contact) in tokens for b in two.chatbot)
