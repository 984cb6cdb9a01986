"""Opt-out detection on inbound text, table-driven (number matching: test_phones.py)."""

from __future__ import annotations

import pytest

from outperform_mcp.store.contacts import is_opt_out
from outperform_mcp.store.optout import DEFAULT


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
        "please stop contacting me, thanks",
        "remove me from your list",
    ],
)
def test_opt_out_requests(text: str) -> None:
    assert is_opt_out(text, DEFAULT) is True


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
    assert is_opt_out(text, DEFAULT) is False
