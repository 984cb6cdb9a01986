"""Prompt files: the bundled ones load; malformed ones stop start-up naming the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client, MCPError
from mcp.server.mcpserver import MCPServer

from outperform_mcp.server.prompts import PromptFileError, default_prompts_dir, load_prompts, parse_prompt

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
    assert names == {"triage_replies", "follow_up_silent_leads", "contact_briefing", "weekly_sentiment_report"}


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
