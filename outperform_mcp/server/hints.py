"""Result hints name only tools this server offers: a sentence that points at a tool the
selection hid (``--tools``, ``--toolsets``, ``--read-only``...) is dropped from the hint."""

from __future__ import annotations

import re
from collections.abc import Collection

# Fields that carry the server's own advice; customer-written text is never touched.
HINT_FIELDS = frozenset({"message", "detail", "way_out", "note"})
_SENTENCE = re.compile(r"(?<=[.;])\s+")


def drop_hidden(text: str, hidden: Collection[str]) -> str:
    if not any(name in text for name in hidden):
        return text
    names = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(hidden)) + r")\b")
    kept = [part for part in _SENTENCE.split(text) if not names.search(part)]
    return " ".join(kept)


def without_hidden(value: object, hidden: Collection[str], key: str | None = None) -> object:
    """``value`` (a tool's structured result) with hint sentences naming ``hidden`` tools dropped."""
    if not hidden:
        return value
    if isinstance(value, dict):
        return {k: without_hidden(v, hidden, k) for k, v in value.items()}
    if isinstance(value, list):
        return [without_hidden(v, hidden, key) for v in value]
    if isinstance(value, str) and key in HINT_FIELDS:
        return drop_hidden(value, hidden)
    return value
