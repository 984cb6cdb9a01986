"""The template catalogue (guard/templates.py): every way a templates file can be wrong, and rendering."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from outperform_mcp.guard.templates import Catalogue, Template, TemplateProblem
from outperform_mcp.sandbox.templates import TEMPLATES_PATH


def write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "templates.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "cannot read the templates file"),
        ("", "cannot read the templates file"),
        ({"name": "a", "body": "b"}, "must hold a JSON list"),
        ("null", "must hold a JSON list"),
        ([{"body": "Hi"}], "entry 0 needs name, body, parameters"),
        ([{"name": "ok", "body": "Hi"}, {"name": "x"}], "entry 1 needs name, body, parameters"),
        (["just a string"], "entry 0 needs name, body, parameters"),
        ([{"name": "x", "body": "Hi {{1}}", "parameters": "two"}], "entry 0 needs name, body, parameters"),
        ([{"name": "x", "body": "Hi {{1}}", "parameters": 2}], "x: placeholders do not match parameters=2"),
        ([{"name": "x", "body": "Hi {{2}}"}], "x: placeholders do not match parameters=1"),
        ([{"name": "x", "body": "Hi {{1}} {{3}}", "parameters": 3}], "x: placeholders do not match parameters=3"),
        ([{"name": "x", "body": "Hi", "parameters": 1}], "x: placeholders do not match parameters=1"),
    ],
)
def test_load_errors_name_the_file_and_the_problem(tmp_path: Path, content: Any, says: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(TemplateProblem) as info:
        Catalogue.load(path)
    assert says in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateProblem, match=r"cannot read the templates file .*nope\.json"):
        Catalogue.load(tmp_path / "nope.json")


def test_no_file_is_an_empty_unknown_catalogue() -> None:
    catalogue = Catalogue.load(None)
    assert catalogue.known is False
    assert catalogue.names() == []
    assert catalogue.get("anything") is None


@pytest.mark.parametrize(
    ("entry", "parameters"),
    [
        ({"name": "t", "body": "Hi {{1}}, see you {{2}} ({{1}})"}, 2),  # counted from distinct placeholders
        ({"name": "t", "body": "No placeholders"}, 0),
        ({"name": "t", "body": "Hi {{1}}", "parameters": 1, "language": "en", "category": "UTILITY"}, 1),
    ],
)
def test_loads_valid_entries(tmp_path: Path, entry: dict[str, Any], parameters: int) -> None:
    catalogue = Catalogue.load(write(tmp_path, [entry, {"name": "a", "body": "A"}]))
    assert catalogue.known is True
    assert catalogue.names() == ["a", "t"]
    template = catalogue.get("t")
    assert template is not None
    assert template.parameters == parameters
    assert template.language == entry.get("language")


def test_the_sandbox_catalogue_loads() -> None:
    catalogue = Catalogue.load(TEMPLATES_PATH)
    assert catalogue.names()
    assert all(catalogue.get(name) is not None for name in catalogue.names())


@pytest.mark.parametrize(
    ("body", "count", "params", "text"),
    [
        ("Hi {{1}}", 1, ["Dan"], "Hi Dan"),
        ("{{2}} then {{1}}", 2, ["a", "b"], "b then a"),
        ("Hi {{1}}", 1, ["{{2}}"], "Hi {{2}}"),  # a parameter is never expanded again
        ("Plain", 0, [], "Plain"),
    ],
)
def test_render(body: str, count: int, params: list[str], text: str) -> None:
    assert Template("t", body, count).render(params) == text


@pytest.mark.parametrize("params", [[], ["a", "b"]])
def test_render_with_the_wrong_number_of_parameters(params: list[str]) -> None:
    with pytest.raises(TemplateProblem, match=r"template t takes 1 parameter\(s\), got \d+: pass them in order"):
        Template("t", "Hi {{1}}", 1).render(params)
