"""Phone-number normalisation shared by contact creation, search and inbound lookup."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-().]")


def normalise_phone(raw: str) -> str:
    """Digits only, as the vendor stores them; raises ValueError for anything else.

    A single leading "+" and spaces, dashes, dots and parentheses are tolerated.
    """
    cleaned = _SEPARATORS.sub("", raw.strip())
    if cleaned.startswith("+"):
        cleaned = cleaned[1:]
    if not cleaned.isascii() or not cleaned.isdigit():
        raise ValueError("contact must be a phone number made of digits (an optional leading + is allowed)")
    if not 7 <= len(cleaned) <= 15:
        raise ValueError("contact must have between 7 and 15 digits")
    return cleaned


def phone_key(digits: str) -> str:
    """Identity used for duplicate detection: local Malaysian numbers equal their +60 form.

    "0129928376", "60129928376" and "0060129928376" are the same subscriber, so a
    create with any of them collides with the others.
    """
    if digits.startswith("00"):
        return digits[2:]
    if digits.startswith("0"):
        return "6" + digits
    return digits
