"""Cleaning text written by customers before anyone (a model included) reads it."""

from __future__ import annotations

import re
import unicodedata

# Bidi overrides/isolates, zero-width and other invisible format characters: they can hide or
# reorder instructions inside a message that looks harmless to a person.
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb]"
)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """Strip invisible, bidirectional and control characters; normalise to NFC."""
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub("", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFC", text)


def trim(text: str, limit: int) -> str:
    """Cut long text with a visible marker so the reader knows something is missing."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [trimmed {len(text) - limit} chars]"


_BREAKS = re.compile(r"[\s\u2028\u2029\x85]+")


def one_line(text: str, limit: int) -> str:
    """Text that cannot pose as more than one line: cleaned, every line break and run of white
    space made one space, capped with a visible marker (names and labels shown to a human)."""
    flat = _BREAKS.sub(" ", clean(text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def has_breaks_or_controls(text: str) -> bool:
    """Line breaks, control or format characters: nothing a name or label should hold."""
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)
