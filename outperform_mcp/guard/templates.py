"""WhatsApp template bodies, so a preview shows the exact text a template send produces.

The file is a JSON list of ``{"name", "body", "parameters", ...}`` with ``{{1}}``-style
placeholders (the sandbox ships one). Optional per template: ``language``, ``category`` and
``parameter_info``, a list (one per placeholder, in order) of ``{"meaning", "example"}`` that the
template catalogue shows. Without a file, previews show the name and parameters only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

_PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")


class TemplateProblem(ValueError):
    """The template or its parameters cannot be sent as given; the message says how to fix it."""


@dataclass(frozen=True)
class ParamInfo:
    meaning: str | None = None
    example: str | None = None


@dataclass(frozen=True)
class Template:
    name: str
    body: str
    parameters: int
    language: str | None = None
    category: str | None = None
    info: tuple[ParamInfo, ...] = ()

    def param_info(self, position: int) -> ParamInfo:
        """What parameter ``position`` (1-based) means, as far as the file says."""
        return self.info[position - 1] if position <= len(self.info) else ParamInfo()

    def render(self, params: list[str]) -> str:
        if len(params) != self.parameters:
            raise TemplateProblem(
                f"template {self.name} takes {self.parameters} parameter(s), got {len(params)}: "
                "pass them in order as a list"
            )
        # One pass, so a parameter that itself contains "{{2}}" is not expanded again.
        return _PLACEHOLDER.sub(lambda m: params[int(m.group(1)) - 1], self.body)


class Catalogue:
    def __init__(self, templates: list[Template], source: Path | None = None) -> None:
        self._by_name = {t.name: t for t in templates}
        self.source = source

    @property
    def known(self) -> bool:
        """False when no templates file was given: bodies cannot be shown."""
        return self.source is not None

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def all(self) -> list[Template]:
        return [self._by_name[n] for n in self.names()]

    def get(self, name: str) -> Template | None:
        return self._by_name.get(name)

    @classmethod
    def empty(cls) -> Catalogue:
        return cls([])

    @classmethod
    def load(cls, path: Path | None) -> Catalogue:
        if path is None:
            return cls.empty()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TemplateProblem(f"cannot read the templates file {path}: {exc}") from None
        if not isinstance(raw, list):
            raise TemplateProblem(f"templates file {path} must hold a JSON list")
        templates = []
        for index, item in enumerate(raw):
            try:
                name, body = str(item["name"]), str(item["body"])
                count = int(item.get("parameters", len(set(_PLACEHOLDER.findall(body)))))
            except (KeyError, TypeError, ValueError):
                raise TemplateProblem(f"templates file {path}: entry {index} needs name, body, parameters") from None
            found = {int(n) for n in _PLACEHOLDER.findall(body)}
            if found != set(range(1, count + 1)):
                raise TemplateProblem(f"templates file {path}: {name}: placeholders do not match parameters={count}")
            templates.append(
                Template(name, body, count, item.get("language"), item.get("category"), _info(path, name, item))
            )
        return cls(templates, path)


def _info(path: Path, name: str, item: dict[str, object]) -> tuple[ParamInfo, ...]:
    raw = item.get("parameter_info", [])
    if not isinstance(raw, list) or not all(isinstance(p, dict) for p in raw):
        raise TemplateProblem(f"templates file {path}: {name}: parameter_info must be a list of objects")
    out = []
    for p in raw:
        meaning, example = p.get("meaning"), p.get("example")
        out.append(ParamInfo(str(meaning) if meaning else None, str(example) if example else None))
    return tuple(out)
