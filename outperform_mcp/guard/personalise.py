"""Per-recipient template parameters: contact-field placeholders filled in, unfinished ones refused.

A parameter may hold ``{first_name}`` or ``{name}``; each recipient gets it filled from their
own CRM contact, so one call personalises a whole batch without the model copying names. After
filling, a parameter that is empty or still looks like a placeholder (``{x}``, ``{{1}}``,
``[name]``, ``<name>``) is refused before anyone is asked to approve it.
"""

from __future__ import annotations

import re

from ..textsafe import clean

FIELDS = ("first_name", "name")
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_ ]*)\}")
# What an unfinished parameter looks like once the known fields are filled.
_LEFTOVER = re.compile(r"\{\{[^{}]*\}\}|\{[^{}]*\}|\[\s*[A-Za-z][A-Za-z _]{0,40}\]|<\s*[A-Za-z][A-Za-z _]{0,40}>")
MAX_FIELD = 60


class ParamProblem(ValueError):
    """A parameter cannot be sent as given; the message says what to pass instead."""


def unknown_fields(params: tuple[str, ...]) -> list[str]:
    """Placeholders in ``{...}`` that are not contact fields (a typo such as ``{firstname}``)."""
    found = {m.group(1) for p in params for m in _FIELD.finditer(p)}
    return sorted(found - set(FIELDS))


def uses_fields(params: tuple[str, ...]) -> bool:
    return any(f"{{{f}}}" in p for p in params for f in FIELDS)


def field_values(name: str) -> dict[str, str]:
    """The contact fields a parameter may use, from the (untrusted) CRM name, cleaned and bounded."""
    full = " ".join(clean(name).split())[:MAX_FIELD]
    first = full.split(" ", 1)[0] if full else ""
    return {"first_name": first, "name": full}


def fill(params: tuple[str, ...], name: str) -> tuple[str, ...]:
    """``params`` with contact fields filled from ``name``; raises ``ParamProblem`` saying why not."""
    values = field_values(name)
    out = []
    for position, param in enumerate(params, start=1):
        needed = [f for f in FIELDS if f"{{{f}}}" in param]
        missing = [f for f in needed if not values[f]]
        if missing:
            raise ParamProblem(f"parameter {position} uses {{{missing[0]}}} but the contact has no name")
        filled = param
        for f in needed:
            filled = filled.replace(f"{{{f}}}", values[f])
        if "|" in filled:  # the vendor joins parameters with '|'
            raise ParamProblem(f"parameter {position} would hold the unusable contact name {values['name']!r}")
        out.append(filled.strip())
    return tuple(out)


def unfinished(params: tuple[str, ...], *, skip_fields: bool = False) -> str | None:
    """Why these (filled) parameters are not ready to send, or None when they are.
    ``skip_fields``: check only the parameters that hold no contact field (before filling)."""
    for position, param in enumerate(params, start=1):
        if skip_fields and uses_fields((param,)):
            continue
        if not param.strip():
            return f"parameter {position} is empty"
        leftover = _LEFTOVER.search(param)
        if leftover:
            return f"parameter {position} still holds the placeholder {leftover.group(0)!r}"
    return None
