"""Recognising a customer's request to stop receiving messages (English and Malay).

A message counts when its whole text, or its first or last clause, is an opt-out phrase with at
most some politeness around it ("Stop please", "Please stop", "STOP 🛑", "ＳＴＯＰ", "tolong
berhenti"). A phrase in the middle of a longer sentence does not ("don't stop the promo"): a
false opt-out only blocks sends, but a word like "stop" is too common to match anywhere.
Text is compared after NFKC, case folding, and with emoji and punctuation removed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

PHRASES: tuple[str, ...] = (
    # English
    "stop",
    "stop all",
    "stop it",
    "unsubscribe",
    "unsubscribe me",
    "cancel",
    "end",
    "quit",
    "opt out",
    "optout",
    "opt me out",
    "stop messaging me",
    "stop texting me",
    "stop sending",
    "stop sending me",
    "stop sending me messages",
    "stop sending messages",
    "stop contacting me",
    "stop messaging",
    "dont message me",
    "do not message me",
    "dont contact me",
    "do not contact me",
    "dont text me",
    "do not text me",
    "no more messages",
    "remove me",
    "remove me from your list",
    "remove me from the list",
    "remove me from this list",
    "leave me alone",
    # Malay
    "berhenti",
    "henti",
    "berhenti hantar",
    "berhenti hantar mesej",
    "berhenti melanggan",
    "jangan hantar",
    "jangan hantar lagi",
    "jangan hantar mesej lagi",
    "jangan mesej saya",
    "jangan mesej saya lagi",
    "jangan hubungi saya",
    "jangan hubungi saya lagi",
    "jangan ganggu saya",
    "nyahlanggan",
    "keluarkan saya",
    "tak nak terima lagi",
    "tidak mahu terima lagi",
)

# Words that may surround a phrase without changing what it asks ("stop please", "tolong berhenti").
_FILLER = frozenset(
    {"please", "pls", "plz", "kindly", "now", "thanks", "thank", "you", "u", "thx", "ok", "okay", "just", "all"}
    | {"can", "could", "would", "will", "these", "this", "them", "anymore", "again"}
    | {"hi", "hello", "sorry", "tolong", "sila", "terima", "kasih", "lah", "la", "ya", "je", "saja", "boleh"}
)
_APOSTROPHES = re.compile("['\u2019\u02bc`]")
_CLAUSE = re.compile(r"[.!?;,:\n\r\u2028\u2029]+")


def normalise(text: str) -> str:
    """NFKC, case-folded, apostrophes dropped, other punctuation and symbols (emoji) as spaces."""
    text = _APOSTROPHES.sub("", unicodedata.normalize("NFKC", text).casefold())
    kept = [" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in text]
    return " ".join("".join(kept).split())


class OptOutRules:
    """The phrases that mean "stop messaging me"; built-in English and Malay plus configured extras."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self.phrases = frozenset(p for p in (normalise(x) for x in (*PHRASES, *extra)) if p)

    def _is_phrase(self, clause: str) -> bool:
        words = normalise(clause).split()
        while words and words[0] in _FILLER:
            words.pop(0)
        while words and words[-1] in _FILLER:
            words.pop()
        return bool(words) and " ".join(words) in self.phrases

    def matches(self, text: str) -> bool:
        if len(text) > 500:  # an opt-out is short; a long message may quote one
            return False
        clauses = [c for c in _CLAUSE.split(text) if normalise(c)]
        if not clauses:
            return False
        return self._is_phrase(text) or self._is_phrase(clauses[0]) or self._is_phrase(clauses[-1])


DEFAULT = OptOutRules()
