"""Label names as the CRM spells them: a filter matches whatever its case, a typo names the closest."""

from __future__ import annotations

import difflib

from mcp.server.mcpserver.exceptions import ToolError

from ...api.client import OutPerformClient
from ..errors import upstream


async def canonical_label(api: OutPerformClient, wanted: str) -> str:
    """The CRM's own spelling of ``wanted`` (case-insensitive); a clear error naming the closest
    labels when there is none."""
    with upstream():
        names = [label.name for label in await api.list_labels()]
    key = wanted.strip().casefold()
    match = next((n for n in names if n.casefold() == key), None)
    if match is not None:
        return match
    by_key = {n.casefold(): n for n in names}
    close = [by_key[k] for k in difflib.get_close_matches(key, list(by_key), n=3, cutoff=0.5)]
    hint = f"closest: {', '.join(close)}" if close else f"labels are: {', '.join(sorted(names)[:20])}"
    raise ToolError(f"no label {wanted!r} ({hint}); list_labels shows them all")
