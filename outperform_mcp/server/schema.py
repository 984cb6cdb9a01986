"""Compact JSON schemas for tools/list: every byte there is paid for in the model's context.

Arguments are still validated by the tool's pydantic model; the advertised schema only has to
tell the model what to send. Dropped: pydantic's generated ``title`` keywords (they repeat the
property name), the ``anyOf [X, null]`` wrapper and ``default: null`` of optional arguments
(omitting one is how a model says "none"; an explicit null is still accepted), and regex
``pattern``s, which models rarely read and the server enforces with a clear error anyway.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from .hints import without_hidden


def _strip_titles(node: Any, *, in_properties: bool = False) -> Any:
    if isinstance(node, list):
        return [_strip_titles(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "pattern") and isinstance(value, str) and not in_properties:
            continue
        out[key] = _strip_titles(value, in_properties=key in ("properties", "$defs"))
    return out


def _unwrap_optional(prop: dict[str, Any]) -> dict[str, Any]:
    options = prop.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return prop
    if prop.get("default", ...) is not None:
        return prop
    (inner,) = [o for o in options if o != {"type": "null"}]
    merged = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
    return {**inner, **merged}


def compact_input(schema: dict[str, Any]) -> dict[str, Any]:
    schema = _strip_titles(schema)
    props = schema.get("properties")
    if isinstance(props, dict):
        schema["properties"] = {name: _unwrap_optional(p) for name, p in props.items()}
    return schema


def _inline_refs(node: Any, defs: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    if isinstance(node, list):
        return [_inline_refs(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name in defs and name not in seen:  # a recursive model keeps its $ref
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**_inline_refs(defs[name], defs, (*seen, name)), **rest}
    return {k: _inline_refs(v, defs, seen) for k, v in node.items()}


def _bare_type(option: Any) -> bool:
    return isinstance(option, dict) and option.keys() == {"type"} and isinstance(option["type"], str)


def _nullable_types(node: Any) -> Any:
    """``anyOf [{"type": T, ...}, {"type": "null"}]`` -> ``{"type": [T, "null"], ...}``; a union of
    bare types -> one type list."""
    if isinstance(node, list):
        return [_nullable_types(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable_types(v) for k, v in node.items()}
    options = node.get("anyOf")
    if isinstance(options, list) and options and all(_bare_type(o) for o in options):
        # A union of plain types (a table cell: str | int | float | None) is one type list: the same
        # check, without a subschema per option for the client to build for every cell.
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        return {**rest, "type": list(dict.fromkeys(o["type"] for o in options))}
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        (inner,) = [o for o in options if o != {"type": "null"}]
        if isinstance(inner, dict) and isinstance(inner.get("type"), str) and not {"enum", "const"} & inner.keys():
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            return {**inner, **rest, "type": [inner["type"], "null"]}
    return node


def compact_output(schema: dict[str, Any]) -> dict[str, Any]:
    """Smaller and quicker for clients to check results against: no titles, no $defs indirection."""
    schema = _strip_titles(schema)
    defs = schema.pop("$defs", {})
    inlined = _inline_refs(schema, defs)
    if any(f"#/$defs/{name}" in repr(inlined) for name in defs):  # recursion: keep what is still referenced
        inlined["$defs"] = defs
    return dict(_nullable_types(inlined))


class CompactResult(FuncMetadata):
    """Results whose text block is compact JSON: the SDK indents it, which costs the model ~30 %
    more tokens for the same structured content."""

    hidden: frozenset[str] = frozenset()  # tools the selection hid: hints must not name them

    def convert_result(self, result: Any) -> Any:
        model = self.output_model
        if not self.wrap_output and isinstance(model, type) and isinstance(result, model):
            # The usual case, done directly: the SDK would validate an instance it then leaves as it
            # is, and indent the whole result into a text block that is replaced here anyway.
            assert isinstance(result, BaseModel)
            structured, text = self._compact(result.model_dump(mode="json", by_alias=True))
            return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)
        out = super().convert_result(result)
        if isinstance(out, CallToolResult) and out.structured_content is not None and not out.is_error:
            out.structured_content, text = self._compact(out.structured_content)
            out.content = [TextContent(type="text", text=text)]
        return out

    def _compact(self, structured: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """``structured`` with hints cleared of hidden tools' names, and its compact JSON."""
        text = json.dumps(structured, separators=(",", ":"), ensure_ascii=False)
        if not any(name in text for name in self.hidden):  # then no hint names one: nothing to walk
            return structured, text
        cleaned = without_hidden(structured, self.hidden)
        assert isinstance(cleaned, dict)
        return cleaned, json.dumps(cleaned, separators=(",", ":"), ensure_ascii=False)
