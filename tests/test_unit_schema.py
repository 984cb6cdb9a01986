"""Schema compaction (server/schema.py): what is dropped, what must survive, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from outperform_mcp.server.schema import compact_input, compact_output

STR = {"type": "string"}
NULL = {"type": "null"}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        # pydantic's titles go, a property *named* title stays
        (
            {"title": "Args", "type": "object", "properties": {"q": {"title": "Q", "type": "string"}}},
            {"type": "object", "properties": {"q": {"type": "string"}}},
        ),
        (
            {"type": "object", "properties": {"title": {"title": "Title", "type": "string"}}},
            {"type": "object", "properties": {"title": {"type": "string"}}},
        ),
        # patterns go (the server enforces them with a clear error)
        (
            {"type": "object", "properties": {"token": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}},
            {"type": "object", "properties": {"token": {"type": "string"}}},
        ),
        # optional X | None with default None becomes plain X, keeping its other keywords
        (
            {"properties": {"q": {"anyOf": [{"type": "string", "maxLength": 5}, NULL], "default": None, "x": 1}}},
            {"properties": {"q": {"type": "string", "maxLength": 5, "x": 1}}},
        ),
        (
            {"properties": {"q": {"anyOf": [NULL, {"type": "integer"}], "default": None}}},
            {"properties": {"q": {"type": "integer"}}},
        ),
        # ...but not when the default is something else, nor for real unions
        (
            {"properties": {"q": {"anyOf": [STR, NULL], "default": "x"}}},
            {"properties": {"q": {"anyOf": [STR, NULL], "default": "x"}}},
        ),
        (
            {"properties": {"q": {"anyOf": [STR, NULL]}}},  # required and nullable: the null stays visible
            {"properties": {"q": {"anyOf": [STR, NULL]}}},
        ),
        (
            {"properties": {"q": {"anyOf": [STR, {"type": "integer"}], "default": None}}},
            {"properties": {"q": {"anyOf": [STR, {"type": "integer"}], "default": None}}},
        ),
        (
            {"properties": {"q": {"anyOf": [STR, {"type": "integer"}, NULL], "default": None}}},
            {"properties": {"q": {"anyOf": [STR, {"type": "integer"}, NULL], "default": None}}},
        ),
        # a title that is not a string (say, a const in an enum-like schema) is kept
        (
            {"properties": {"q": {"title": 3, "type": "integer"}}},
            {"properties": {"q": {"title": 3, "type": "integer"}}},
        ),
        ({"type": "object"}, {"type": "object"}),
    ],
)
def test_compact_input(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert compact_input(schema) == expected


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        # $defs are inlined and disappear
        (
            {
                "title": "Out",
                "type": "object",
                "properties": {"item": {"$ref": "#/$defs/Item"}},
                "$defs": {"Item": {"title": "Item", "type": "object", "properties": {"n": {"type": "integer"}}}},
            },
            {"type": "object", "properties": {"item": {"type": "object", "properties": {"n": {"type": "integer"}}}}},
        ),
        # a $ref with siblings keeps them
        (
            {"properties": {"a": {"$ref": "#/$defs/A", "description": "d"}}, "$defs": {"A": {"type": "string"}}},
            {"properties": {"a": {"type": "string", "description": "d"}}},
        ),
        # nullable scalars become a type list
        (
            {"properties": {"a": {"anyOf": [{"type": "string", "format": "date-time"}, NULL], "default": None}}},
            {"properties": {"a": {"type": ["string", "null"], "format": "date-time", "default": None}}},
        ),
        # ...enums and consts keep the anyOf (a type list would lose the null next to the enum)
        (
            {"properties": {"a": {"anyOf": [{"type": "string", "enum": ["x"]}, NULL]}}},
            {"properties": {"a": {"anyOf": [{"type": "string", "enum": ["x"]}, NULL]}}},
        ),
        # a nullable reference: inlined first, then made a type list
        (
            {"properties": {"a": {"anyOf": [{"$ref": "#/$defs/A"}, NULL]}}, "$defs": {"A": {"type": "object"}}},
            {"properties": {"a": {"type": ["object", "null"]}}},
        ),
        # a union of bare types (a table cell) becomes one type list
        (
            {"properties": {"a": {"items": {"anyOf": [{"type": "string"}, {"type": "integer"}, NULL]}}}},
            {"properties": {"a": {"items": {"type": ["string", "integer", "null"]}}}},
        ),
        # ...but not when a member says more than its type
        (
            {"properties": {"a": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "integer"}]}}},
            {"properties": {"a": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "integer"}]}}},
        ),
        # arrays of references
        (
            {
                "properties": {"a": {"type": "array", "items": {"$ref": "#/$defs/A"}}},
                "$defs": {"A": {"type": "integer"}},
            },
            {"properties": {"a": {"type": "array", "items": {"type": "integer"}}}},
        ),
    ],
)
def test_compact_output(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert compact_output(schema) == expected


def test_recursive_models_keep_their_defs() -> None:
    node = {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}
    schema = {"properties": {"root": {"$ref": "#/$defs/Node"}}, "$defs": {"Node": node}}
    out = compact_output(schema)
    assert out["$defs"] == {"Node": node}  # still referenced from inside the inlined copy
    root = out["properties"]["root"]
    assert root["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}


def test_input_is_not_mutated() -> None:
    schema = {"title": "A", "properties": {"q": {"anyOf": [STR, NULL], "default": None, "title": "Q"}}}
    before = repr(schema)
    compact_input(schema)
    compact_output(schema)
    assert repr(schema) == before
