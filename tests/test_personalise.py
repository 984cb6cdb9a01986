"""Contact-field placeholders and unfinished-parameter checks (pure logic, table-driven)."""

from __future__ import annotations

import pytest

from outperform_mcp.guard.personalise import ParamProblem, fill, unfinished, unknown_fields


@pytest.mark.parametrize(
    ("params", "name", "filled"),
    [
        (("{first_name}", "the condo"), "Mei Xin Tan", ("Mei", "the condo")),
        (("{name}",), "  Mei   Xin Tan ", ("Mei Xin Tan",)),
        (("Dear {first_name}, hi",), "Kelvin", ("Dear Kelvin, hi",)),
        (("no fields",), "", ("no fields",)),
        (("{first_name}",), "Marcus {name}", ("Marcus",)),
    ],
)
def test_fill(params: tuple[str, ...], name: str, filled: tuple[str, ...]) -> None:
    assert fill(params, name) == filled


@pytest.mark.parametrize(
    ("params", "name", "why"),
    [
        (("{first_name}",), "", "has no name"),
        (("{name}",), "Ann | Bob", "unusable contact name"),
    ],
)
def test_fill_refuses(params: tuple[str, ...], name: str, why: str) -> None:
    with pytest.raises(ParamProblem, match=why):
        fill(params, name)


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        (("Mei", "the condo"), None),
        (("Mei", ""), "parameter 2 is empty"),
        (("  ",), "parameter 1 is empty"),
        (("{first_name}",), "still holds the placeholder '{first_name}'"),
        (("Hi {{1}}",), "still holds the placeholder '{{1}}'"),
        (("[Name]",), "still holds the placeholder '[Name]'"),
        (("<customer name>",), "still holds the placeholder '<customer name>'"),
        (("Marcus {name}",), "still holds the placeholder '{name}'"),
        (("RM 1,250 (20% off)",), None),
    ],
)
def test_unfinished(params: tuple[str, ...], problem: str | None) -> None:
    found = unfinished(params)
    assert found == problem if problem is None else found is not None and problem in found


def test_unknown_fields_catches_typos() -> None:
    assert unknown_fields(("{firstname}", "{first_name}", "{Name}")) == ["Name", "firstname"]
