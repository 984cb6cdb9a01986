"""Compact JSON schemas for tools/list: every byte there is paid for in the model's context.

Arguments are still validated by the tool's pydantic model; the advertised schema only has to
tell the model what to send. Dropped: pydantic's generated ``title`` keywords (they repeat the
property name), the ``anyOf [X, null]`` wrapper and ``default: null`` of optional arguments
(omitting one is how a model says "none"; an explicit null is still accepted), and regex
``pattern``s, which models rarely read and the server enforces with a clear error anyway.
"""

from __future__ import annotations

from typing import Any


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


def compact_output(schema: dict[str, Any]) -> dict[str, Any]:
    return dict(_strip_titles(schema))
