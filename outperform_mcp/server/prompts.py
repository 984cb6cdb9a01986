"""MCP prompts from Markdown files: a small header, then the body with {{argument}} slots.

    ---
    name: triage_replies
    title: Triage today's replies
    description: One line for the prompt picker
    argument: since | Day to start from, YYYY-MM-DD | optional
    ---
    Body text using {{since}} ...

A malformed file stops start-up with an error that names the file and the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import MCPError
from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument
from mcp.types import INVALID_PARAMS

from ..problems import StartProblem

_SLOT = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


class PromptFileError(StartProblem, ValueError):
    pass


@dataclass
class PromptFile:
    path: Path
    name: str
    description: str
    title: str | None = None
    arguments: list[PromptArgument] = field(default_factory=list)
    body: str = ""

    def render(self, values: dict[str, str]) -> str:
        return _SLOT.sub(lambda m: values.get(m.group(1)) or "(not given)", self.body)


def default_prompts_dir() -> Path:
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_prompts", here.parent / "prompts"):  # installed wheel, then checkout
        if candidate.is_dir():
            return candidate
    return here.parent / "prompts"


def parse_prompt(path: Path) -> PromptFile:
    def fail(line: int, why: str) -> PromptFileError:
        return PromptFileError(f"{path}:{line}: {why}")

    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].strip() != "---":
        raise fail(1, "a prompt file starts with a '---' header line")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise fail(1, "the header is not closed with '---'") from None
    meta: dict[str, str] = {}
    arguments: list[PromptArgument] = []
    for number, line in enumerate(lines[1:end], start=2):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise fail(number, "expected 'key: value'")
        if key == "argument":
            parts = [p.strip() for p in value.split("|")]
            if len(parts) not in (2, 3) or not _NAME.match(parts[0]):
                raise fail(number, "expected 'argument: name | description [| optional]'")
            optional = len(parts) == 3 and parts[2] == "optional"
            if len(parts) == 3 and not optional:
                raise fail(number, "the third part of an argument can only be 'optional'")
            arguments.append(PromptArgument(name=parts[0], description=parts[1], required=not optional))
        elif key in ("name", "title", "description"):
            meta[key] = value
        else:
            raise fail(number, f"unknown header key {key!r} (name, title, description, argument)")
    for key in ("name", "description"):
        if key not in meta:
            raise fail(1, f"the header needs '{key}:'")
    if not _NAME.match(meta["name"]):
        raise fail(1, f"name {meta['name']!r} must be lower_snake_case")
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        raise fail(end + 1, "the prompt body is empty")
    declared = {a.name for a in arguments}
    used = set(_SLOT.findall(body))
    if used - declared:
        raise fail(end + 1, f"body uses undeclared arguments: {', '.join(sorted(used - declared))}")
    return PromptFile(path, meta["name"], meta["description"], meta.get("title"), arguments, body)


def load_prompts(folder: Path | None = None) -> list[Prompt]:
    """The prompts of every file in ``folder`` (default: the bundled ones), ready to add to a server."""
    folder = folder or default_prompts_dir()
    files = [parse_prompt(path) for path in sorted(folder.glob("*.md"))]
    seen: set[str] = set()
    for prompt in files:
        if prompt.name in seen:
            raise PromptFileError(f"{prompt.path}: duplicate prompt name {prompt.name!r}")
        seen.add(prompt.name)
    return [_to_prompt(prompt) for prompt in files]


class _FilePrompt(Prompt):
    """Reports a missing argument as invalid params, not as a generic internal error."""

    async def render(self, arguments: dict[str, Any] | None, context: Any) -> Any:
        missing = [a.name for a in self.arguments or [] if a.required and not (arguments or {}).get(a.name)]
        if missing:
            raise MCPError(code=INVALID_PARAMS, message=f"prompt {self.name} needs: {', '.join(missing)}")
        return await super().render(arguments, context)


def _to_prompt(prompt: PromptFile) -> Prompt:
    names = [a.name for a in prompt.arguments]

    def render(**values: str) -> str:
        return prompt.render({n: values.get(n, "") for n in names})

    return _FilePrompt(
        name=prompt.name,
        title=prompt.title,
        description=prompt.description,
        arguments=prompt.arguments,
        fn=render,
    )
