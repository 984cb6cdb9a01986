"""Resource functions as the SDK serves them: ``Deps`` bound, URI parameters only, errors mapped.

A resource listed from the catalogue is bound without its module: the reader's signature (which
the SDK reads for a template's URI parameters) is rebuilt from the entry, and the module is
imported on the first read.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

from .catalogue import PARAM_TYPES, ResourceEntry, resolve_resource
from .errors import resource_errors
from .registry import ResourceDef, ResourceInfo


def bind_resource(fn: Callable[..., Any], deps: object) -> Callable[..., Any]:
    """``fn(deps, **uri_params)`` as the SDK wants it: URI parameters only, errors mapped."""
    hints = typing.get_type_hints(fn)
    params = list(inspect.signature(fn).parameters.values())[1:]
    signature = inspect.Signature(
        [p.replace(annotation=hints.get(p.name, p.annotation)) for p in params],
        return_annotation=hints.get("return", inspect.Signature.empty),
    )
    return _reader(lambda: fn, deps, signature, fn.__name__, fn.__doc__)


def bind_entry(entry: ResourceEntry, deps: object) -> Callable[..., Any]:
    """``bind_resource`` for a catalogue entry: the same signature, the function imported on first read."""
    signature = inspect.Signature(
        [
            inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=PARAM_TYPES[kind])
            for name, kind in entry.params
        ]
    )

    @functools.cache
    def resolve() -> Callable[..., Any]:
        return resolve_resource(entry).fn

    return _reader(resolve, deps, signature, entry.name, entry.description or None)


def bind(info: ResourceInfo, deps: object) -> Callable[..., Any]:
    """The reader of a catalogue entry or of a declaration (when the catalogue is not current)."""
    if isinstance(info, ResourceEntry):
        return bind_entry(info, deps)
    if isinstance(info, ResourceDef):
        return bind_resource(info.fn, deps)
    raise TypeError(f"{info.uri}: neither a catalogue entry nor a declaration")


def _reader(
    resolve: Callable[[], Callable[..., Any]], deps: object, signature: inspect.Signature, name: str, doc: str | None
) -> Callable[..., Any]:
    async def read(**params: Any) -> Any:
        fn = resolve()
        with resource_errors():
            return await fn(deps, **params)

    read.__signature__ = signature  # type: ignore[attr-defined]
    read.__annotations__ = {
        p.name: p.annotation for p in signature.parameters.values() if p.annotation is not inspect.Parameter.empty
    }
    read.__name__ = name
    read.__doc__ = doc
    return read
