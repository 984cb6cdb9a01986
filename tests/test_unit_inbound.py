"""Inbound text and numbers as pure functions: opt-out detection and number matching, table-driven."""

from __future__ import annotations

import pytest

from outperform_mcp.server.inbox import same_number
from outperform_mcp.store.contacts import digits, is_opt_out


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        " Stop. ",
        "STOP!!",
        "stop all",
        "Unsubscribe",
        "cancel",
        "END",
        "quit",
        "opt out",
        "opt-out",
        "OPTOUT",
        "berhenti",  # Malay
        "Please unsubscribe me",
        "stop messaging me",
        "Can you stop texting me?",
        "stop sending me these",
        "please stop contacting me, thanks",
        "remove me from your list",
    ],
)
def test_opt_out_requests(text: str) -> None:
    assert is_opt_out(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Yes, please send the invoice again",
        "Don't stop now, I'm interested!",  # "stop" inside a sentence is not a request
        "Where is the bus stop?",
        "Can I cancel my viewing on Tuesday?",
        "the end of the month works",
        "I quit my job so I have time to visit",
        "stopped by the showroom yesterday",
        "unsubscribed? no, keep me posted",
        "stop all the construction noise please",  # not anchored to the whole message
        "STOP STOP",
    ],
)
def test_ordinary_messages(text: str) -> None:
    assert is_opt_out(text) is False


@pytest.mark.parametrize(
    ("phone", "expected"),
    [("+60 12-992 8376", "60129928376"), ("(012) 555.0177", "0125550177"), ("no digits", ""), ("６０", "")],
)
def test_digits(phone: str, expected: str) -> None:
    assert digits(phone) == expected


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("60129928376", "60129928376", True),
        ("+60 12-992 8376", "60129928376", True),
        ("0060129928376", "+60129928376", True),  # international 00 prefix
        ("0060129928376", "0060129928376", True),
        ("60129928376", "0129928376", False),  # deliberately strict: no guessing a country code
        ("60129928376", "6012992837", False),  # a prefix is not the number
        ("60129928376", "60129928377", False),
        ("", "", False),  # nothing never matches nothing
        ("n/a", "none", False),
        ("00", "", False),
    ],
)
def test_same_number(a: str, b: str, same: bool) -> None:
    assert same_number(a, b) is same
    assert same_number(b, a) is same
