"""Opt-out detection: whole short messages or their clear start or end, English and Malay, after
NFKC, case, emoji and punctuation are set aside; a "stop" inside an ordinary sentence is not one."""

from __future__ import annotations

import pytest

from outperform_mcp.settings import GuardSettings
from outperform_mcp.store.optout import DEFAULT, OptOutRules

HITS = [
    "STOP",
    "stop",
    "Stop please",
    "Please stop",
    "STOP 🛑",
    "ＳＴＯＰ",
    "Stop!!!",
    "  stop.  ",
    "Unsubscribe",
    "please unsubscribe me",
    "Please stop messaging me, I'm not interested",
    "Not interested. Stop sending me messages",
    "Remove me from your list",
    "Don't contact me",
    "opt-out",
    "Berhenti",
    "tolong berhenti",
    "Jangan hantar lagi",
    "jangan hantar lagi, terima kasih",
    "JANGAN HUBUNGI SAYA",
    "Nyahlanggan",
    "Can you stop texting me?",
    "stop sending me these",
    "Could you please stop messaging me anymore",
]
MISSES = [
    "don't stop the promo",
    "Don't stop, I love these deals",
    "Can you stop by the shop tomorrow?",
    "The bus stop near your office",
    "Can you stop by again this week?",
    "Will you stop the price at 300k?",
    "I want to cancel my order #123 and reorder",
    "When does the promo end?",
    "Jangan lupa hantar invois",  # "don't forget to send the invoice"
    "Berapa harga untuk pakej ini?",
    "",
    "🛑",
    "stop " * 200,
]


@pytest.mark.parametrize("text", HITS)
def test_opt_out_phrases_are_recognised(text: str) -> None:
    assert DEFAULT.matches(text), text


@pytest.mark.parametrize("text", MISSES)
def test_near_misses_are_not_opt_outs(text: str) -> None:
    assert not DEFAULT.matches(text), text


def test_configured_phrases_are_added() -> None:
    settings = GuardSettings.model_validate({"opt_out_phrases": "no more promos, tak nak promo"})
    rules = OptOutRules(settings.opt_out_phrases)
    assert rules.matches("No more promos!")
    assert rules.matches("tak nak promo lah")
    assert rules.matches("STOP")  # the built-in list still applies
    assert not DEFAULT.matches("No more promos!")
