"""Prompt files: the bundled ones load; malformed ones stop start-up naming the file and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mcp import Client, MCPError
from mcp.server.mcpserver import MCPServer

from outperform_mcp.server.app import build_server
from outperform_mcp.server.prompts import PromptFileError, default_prompts_dir, load_prompts, parse_prompt

from .support import offline_deps

pytestmark = pytest.mark.anyio

GOOD = """---
name: follow_up
description: Follow up with someone
argument: who | The contact
argument: when | Day | optional
---
Follow up with {{who}} on {{when}}.
"""


def write(tmp_path: Path, text: str, name: str = "p.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_prompts_parse() -> None:
    names = {parse_prompt(p).name for p in sorted(default_prompts_dir().glob("*.md"))}
    assert names == {
        "triage_replies",
        "follow_up_silent_leads",
        "contact_briefing",
        "weekly_sentiment_report",
        "campaign_report",
    }


_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_CALL = re.compile(r"\b([a-z][a-z0-9_]*)\(([^()]*)\)")
_ARG = re.compile(r"\b([a-z][a-z0-9_]*)\s*=")


def _names(schema: object) -> set[str]:
    """Every property name anywhere in a JSON schema."""
    if isinstance(schema, list):
        return set().union(*(_names(s) for s in schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    found = set(schema.get("properties", {})) if isinstance(schema.get("properties"), dict) else set()
    return found.union(*(_names(v) for v in schema.values()))


def prompt_problems(body: str, tools: dict[str, set[str]], words: set[str]) -> list[str]:
    """Tool names and arguments a prompt uses that the server does not have."""
    problems = []
    for name, args in _CALL.findall(body):
        if name not in tools:
            problems.append(f"calls unknown tool {name}")
            continue
        problems += [f"{name} has no argument {a}" for a in _ARG.findall(args) if a not in tools[name]]
    problems += [f"names unknown {w}" for w in sorted(set(_SNAKE.findall(body)) - words - set(tools))]
    return problems


async def test_bundled_prompts_name_only_tools_and_arguments_that_exist(tmp_path: Path) -> None:
    async with offline_deps(tmp_path) as deps, Client(build_server(deps)) as client:
        listed = (await client.list_tools()).tools
    tools = {t.name: set(t.input_schema.get("properties", {})) for t in listed}
    words = set().union(*(_names(t.input_schema) | _names(t.output_schema or {}) for t in listed))
    for path in sorted(default_prompts_dir().glob("*.md")):
        prompt = parse_prompt(path)
        slots = {a.name for a in prompt.arguments} | {"first_name"}
        assert prompt_problems(prompt.body, tools, words | slots) == [], path.name
    # The check itself catches what it is for.
    assert prompt_problems("call list_templtes(x=1)", tools, words) == [
        "calls unknown tool list_templtes",
        "names unknown list_templtes",
    ]
    assert prompt_problems("get_campaign(campaign=1, days=3)", tools, words) == ["get_campaign has no argument days"]
    assert prompt_problems("then use find_leads", tools, words) == ["names unknown find_leads"]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("no header\n", "starts with a '---'"),
        ("---\nname: x_y\n", "not closed"),
        ("---\nname: x_y\n---\nbody\n", "needs 'description:'"),
        ("---\nname: Bad Name\ndescription: d\n---\nbody\n", "lower_snake_case"),
        ("---\nname: x_y\ndescription: d\ncolour: red\n---\nbody\n", "unknown header key"),
        ("---\nname: x_y\ndescription: d\n---\n\n", "body is empty"),
        ("---\nname: x_y\ndescription: d\n---\nHello {{who}}\n", "undeclared arguments: who"),
        ("---\nname: x_y\ndescription: d\nargument: who\n---\nHello {{who}}\n", "argument: name | description"),
    ],
)
def test_malformed_prompt_names_file_and_problem(tmp_path: Path, text: str, why: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PromptFileError) as info:
        parse_prompt(path)
    assert str(path) in str(info.value)
    assert why in str(info.value)


async def test_required_and_optional_arguments(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    server = MCPServer("t")
    for prompt in load_prompts(tmp_path):
        server.add_prompt(prompt)
    async with Client(server) as client:
        [prompt] = (await client.list_prompts()).prompts
        assert [(a.name, a.required) for a in prompt.arguments or []] == [("who", True), ("when", False)]
        rendered = await client.get_prompt("follow_up", {"who": "Daniel"})
        assert "Follow up with Daniel on (not given)." in str(rendered.messages[0].content)
        with pytest.raises(MCPError) as info:
            await client.get_prompt("follow_up", {})
        assert "needs: who" in info.value.message


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.md")
    write(tmp_path, GOOD, "b.md")
    with pytest.raises(PromptFileError, match="duplicate prompt name"):
        load_prompts(tmp_path)
