"""Phone numbers, written once: every number the server keeps or compares is E.164 digits.

E.164 digits are the country code and the national number with no ``+``, no trunk ``0`` and no
separators (``60125550177``): the form the OutPerform API and WhatsApp webhooks use, so one number
has one key whether it was typed as ``+60 12-555 0177``, ``0060125550177`` or ``012-555 0177``.
Parsing and validation are the ``phonenumbers`` library's; a number written without its country
code is read in the configured default country (``OUTPERFORM_DEFAULT_COUNTRY``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import phonenumbers

_SEPARATORS = re.compile(r"[\s\-().]")
_NOT_DIGITS = re.compile(r"[^0-9]")


class PhoneError(ValueError):
    """Not a phone number; the message says how to write one."""


def _e164_digits(number: phonenumbers.PhoneNumber) -> str:
    import phonenumbers

    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def normalise(raw: str, country: str) -> str:
    """E.164 digits of a number a person wrote; ``PhoneError`` when it is not one.

    A leading ``+`` or ``00`` means the country code follows; a leading ``0`` is a trunk prefix of
    ``country``; bare digits are read as international first (``60125550177``), else as national.
    """
    cleaned = _SEPARATORS.sub("", raw.strip())
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    body = cleaned.removeprefix("+")
    if not body or not body.isascii() or not body.isdigit():
        raise PhoneError("a phone number is digits with an optional leading + (spaces, dashes, brackets allowed)")
    if cleaned.startswith("+"):
        readings: list[tuple[str, str | None]] = [(cleaned, None)]
    elif body.startswith("0"):
        readings = [(body, country)]
    else:
        readings = [("+" + body, None), (body, country)]
    # Imported on the first number, not at start: the package loads all its metadata (15-25 ms).
    import phonenumbers

    parsed = []
    for text, region in readings:
        try:
            parsed.append(phonenumbers.parse(text, region))
        except phonenumbers.NumberParseException:
            continue
    # A valid reading first; a merely possible one (numbering newer than the library's data) next.
    for accept in (phonenumbers.is_valid_number, phonenumbers.is_possible_number):
        for number in parsed:
            if accept(number):
                return _e164_digits(number)
    raise PhoneError(
        f"{raw.strip()[:40]!r} is not a phone number (read in {country} when it has no country code): "
        "write it with its country code, e.g. +60 12-555 0177"
    )


def digits(raw: str) -> str:
    """The ASCII digits of a number, nothing else: as shown to the human and compared at send time."""
    return _NOT_DIGITS.sub("", raw)


def key(raw: str, country: str) -> str:
    """E.164 digits of a number from the API or a webhook; digits only when it does not parse, so
    an odd number is still kept and matched exactly (never dropped)."""
    try:
        return normalise(raw, country)
    except PhoneError:
        return digits(raw)


def same(a: str, b: str, country: str) -> bool:
    """The same subscriber. Deliberately exact after normalising: linking a message to the wrong
    contact is worse than leaving it unlinked."""
    return key(a, country) == key(b, country) != ""
