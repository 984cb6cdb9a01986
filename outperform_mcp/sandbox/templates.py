"""The WhatsApp template catalogue the emulator accepts.

The same file is read by the MCP server to render previews, so the emulator and the
previews can never disagree about a template's body or parameter count.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

TEMPLATES_PATH: Path = Path(__file__).with_name("templates.json")

_PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")


class TemplateError(ValueError):
    """A template send that the vendor would answer with 422 "invalid template"."""


@functools.cache
def _catalogue_text() -> str:
    return TEMPLATES_PATH.read_text(encoding="utf-8")


def load_templates() -> list[dict[str, Any]]:
    """Return a fresh copy of the catalogue (callers may mutate it freely)."""
    data = json.loads(_catalogue_text())
    if not isinstance(data, list):
        raise TypeError(f"{TEMPLATES_PATH} must hold a JSON list")
    templates: list[dict[str, Any]] = data
    for template in templates:
        placeholders = {int(n) for n in _PLACEHOLDER.findall(template["body"])}
        if placeholders != set(range(1, template["parameters"] + 1)):
            raise ValueError(f"template {template['name']!r}: body placeholders do not match 'parameters'")
    return templates


def split_parameters(template_parameter: str) -> list[str]:
    """Split the vendor's `|`-joined parameter string; an empty string means no parameters."""
    return template_parameter.split("|") if template_parameter else []


def render_template(template: dict[str, Any], parameters: list[str]) -> str:
    """Fill `{{n}}` placeholders, raising TemplateError if the parameter count is wrong.

    Substitution is a single regex pass so a parameter that itself contains `{{2}}`
    is not expanded again.
    """
    expected = int(template["parameters"])
    if len(parameters) != expected:
        raise TemplateError(f"'{template['name']}' takes {expected} parameters, got {len(parameters)}")
    body: str = template["body"]
    return _PLACEHOLDER.sub(lambda m: parameters[int(m.group(1)) - 1], body)
