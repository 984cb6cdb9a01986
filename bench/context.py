"""Context budget: what the tool definitions and typical results cost the model, in bytes and tokens.

The model sees each tool as ``{"name", "description", "inputSchema"}``; that JSON (compact,
UTF-8) is measured per tool and in total for whatever ``tools/list`` returns at run time.
Both budgets are printed: input-only, and with ``outputSchema`` (which clients load too). Tokens are estimated as
characters / 4. A tool counts as described well when its description has at least
``MIN_DESCRIPTION`` characters and every parameter has a description.

Results are the text content a tool returns (what hosts hand to the model): a page of 20
contacts, and a 50-message conversation (one seeded contact's thread is grown to 50 messages
through the emulator first). The peer is measured the same way on the same operations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import peer
from common import (
    OUR_READ_TOOL,
    PAGE,
    PEER_READ_TOOL,
    SEARCH,
    Config,
    Report,
    Row,
    est_tokens,
    grow_conversation,
    our_server_in_process,
    ratio,
    scratch_dir,
)
from emulator import EmulatorProcess

MIN_DESCRIPTION = 60
THREAD_CONTACT = "Daniel Lee"
THREAD_MESSAGES = 50
# Our tools that serve the same read endpoints as the peer's four generated tools.
SAME_OPERATIONS = {
    "search_contacts": "list_contacts",
    "list_labels": "list_labels",
    "list_conversations": "list_conversations",
    "list_chatbot_conversations": "list_chatbot_conversations",
}


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def size(text: str) -> str:
    return f"{len(text.encode()):,} B / {est_tokens(len(text)):,} tok"


def model_view(tool: Any, *, with_output: bool = False) -> str:
    view = {"name": tool.name, "description": tool.description or "", "inputSchema": tool.input_schema}
    if with_output and tool.output_schema:
        view["outputSchema"] = tool.output_schema
    return compact(view)


def undescribed(tool: Any) -> list[str]:
    """Parameters without a description (directly or inside anyOf/allOf)."""
    missing = []
    for name, prop in (tool.input_schema.get("properties") or {}).items():
        options = [prop, *prop.get("anyOf", []), *prop.get("allOf", [])]
        if not any(isinstance(o, dict) and o.get("description") for o in options):
            missing.append(name)
    return missing


def result_text(result: Any) -> str:
    if result.is_error:
        raise RuntimeError(f"tool failed: {result.content}")
    return "".join(getattr(block, "text", "") for block in result.content)


async def _measure(emu: EmulatorProcess, report: Report, data_dir: Path, thread_token: str) -> None:
    from mcp import Client

    async with our_server_in_process(emu, data_dir) as (server, _), Client(server) as client:
        tools = (await client.list_tools()).tools
        page = await client.call_tool(OUR_READ_TOOL, {"search": SEARCH, "limit": PAGE})
        thread = await client.call_tool("get_conversation", {"token": thread_token, "limit": THREAD_MESSAGES})
        ours = {
            "tools": tools,
            "page": result_text(page),
            "page_structured": compact(page.structured_content),
            "thread": result_text(thread),
            "thread_structured": compact(thread.structured_content),
        }
    theirs: dict[str, Any] | None = None
    if peer.available():
        async with peer.in_process(emu) as client:
            peer_tools = (await client.list_tools()).tools
            page = await client.call_tool(PEER_READ_TOOL, {"search": SEARCH, "limit": PAGE})
            thread = await client.call_tool("list_conversations", {"prospect_token": thread_token, "limit": 1})
            theirs = {"tools": peer_tools, "page": result_text(page), "thread": result_text(thread)}
    _rows(report, ours, theirs)


# The default toolsets' budget (issue 12: ≤ 2,500 estimated tokens, every toolset reported apart).
BUDGET = 2500


def _rows(report: Report, ours: dict[str, Any], theirs: dict[str, Any] | None) -> None:
    tools = ours["tools"]
    views = {t.name: model_view(t) for t in tools}
    outputs = {t.name: compact(t.output_schema) if t.output_schema else "" for t in tools}
    total = "".join(views.values())
    out_total = "".join(outputs.values())
    described = [t.name for t in tools if len(t.description or "") >= MIN_DESCRIPTION and not undescribed(t)]
    total_tokens = sum(est_tokens(len(v)) for v in views.values())
    full = {t.name: model_view(t, with_output=True) for t in tools}
    full_total = "".join(full.values())
    full_tokens = sum(est_tokens(len(v)) for v in full.values())
    report.add(
        Row(
            "context",
            f"tools/list as the model sees it ({len(tools)} tools)",
            f"{len(total.encode()):,} B / {total_tokens:,} tok",
            f"{BUDGET:,} tok",
            ratio(total_tokens, BUDGET),
            f"≤ {BUDGET:,} tok",
            total_tokens <= BUDGET and len(described) == len(tools),
        ),
        Row(
            "context",
            "  tools/list with outputSchema too (what clients load)",
            f"{len(full_total.encode()):,} B / {full_tokens:,} tok",
            f"input-only budget {BUDGET:,} tok",
            ratio(full_tokens, BUDGET),
        ),
        Row(
            "context",
            "  tools described well (description + every parameter)",
            f"{len(described)}/{len(tools)}",
            "",
            None,
            "all",
            len(described) == len(tools),
        ),
        Row(
            "context",
            "  outputSchema, all tools (shown by some hosts)",
            size(out_total),
            "",
        ),
    )
    for t in tools:
        report.add(
            Row(
                "context",
                f"  {t.name}",
                size(views[t.name]),
                f"outputSchema {size(outputs[t.name])}" if outputs[t.name] else "no outputSchema",
            )
        )
    for t in tools:
        if t.name not in described:
            why = f"description {len(t.description or '')} chars" if len(t.description or "") < MIN_DESCRIPTION else ""
            missing = undescribed(t)
            report.note(f"{t.name} not described well: {why} {'parameters ' + ', '.join(missing) if missing else ''}")
    page_tokens = est_tokens(len(ours["page"]))
    report.add(
        Row(
            "context",
            f"result: page of {PAGE} contacts (text content)",
            size(ours["page"]),
            "1,500 tok",
            ratio(page_tokens, 1500),
            "≤ 1,500 tok",
            page_tokens <= 1500,
        ),
        Row(
            "context",
            f"result: {THREAD_MESSAGES}-message conversation (text content)",
            size(ours["thread"]),
            "",
        ),
    )
    report.note(
        "structuredContent (sent beside the text on the wire): "
        f"page of {PAGE} contacts {size(ours['page_structured'])}, "
        f"{THREAD_MESSAGES}-message conversation {size(ours['thread_structured'])}"
    )
    if theirs is None:
        return
    peer_views = {t.name: model_view(t) for t in theirs["tools"]}
    peer_described = sum(len(t.description or "") >= MIN_DESCRIPTION and not undescribed(t) for t in theirs["tools"])
    peer_total = sum(est_tokens(len(v)) for v in peer_views.values())
    same = sum(est_tokens(len(views[o])) for o in SAME_OPERATIONS if o in views)
    peer_same = sum(
        est_tokens(len(peer_views[p])) for o, p in SAME_OPERATIONS.items() if o in views and p in peer_views
    )
    peer_page = est_tokens(len(theirs["page"]))
    our_thread, peer_thread = est_tokens(len(ours["thread"])), est_tokens(len(theirs["thread"]))
    report.add(
        Row(
            "peer",
            "tools/list, the same 4 read operations: ours / peer",
            f"{same:,} tok",
            f"{peer.NAME} {peer_same:,} tok (described well: {peer_described}/{len(peer_views)})",
            ratio(same, peer_same),
            "< 1 (better)",
            same < peer_same,
        ),
        Row(
            "peer",
            f"tools/list, whole: ours ({len(tools)} tools) / peer ({len(peer_views)} tools)",
            f"{total_tokens:,} tok",
            f"{peer.NAME} {peer_total:,} tok",
            ratio(total_tokens, peer_total),
        ),
        Row(
            "peer",
            f"result, page of {PAGE} contacts: ours / peer",
            f"{page_tokens:,} tok",
            f"{peer.NAME} {peer_page:,} tok",
            ratio(page_tokens, peer_page),
            "< 1 (better)",
            page_tokens < peer_page,
        ),
        Row(
            "peer",
            f"result, {THREAD_MESSAGES}-message conversation: ours / peer",
            f"{our_thread:,} tok",
            f"{peer.NAME} {peer_thread:,} tok",
            ratio(our_thread, peer_thread),
            "< 1 (better)",
            our_thread < peer_thread,
        ),
    )


def run(emu: EmulatorProcess, cfg: Config, report: Report) -> None:
    thread_token = grow_conversation(emu, THREAD_CONTACT, THREAD_MESSAGES)
    with scratch_dir() as data_dir:
        anyio.run(_measure, emu, report, data_dir, thread_token)
