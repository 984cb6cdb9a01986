"""The preview a human approves: who gets what, exactly, and why it is allowed (plain text)."""

from __future__ import annotations

from datetime import datetime

from .model import Draft, Item

# A dialog shows this many messages of a larger batch, then links to the page that lists them all.
DIALOG_FIRST = 5


def fmt_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def describe(draft: Draft) -> str:
    if draft.kind == "session":
        return "free-text WhatsApp message"
    if draft.per_recipient or any("{" in p for p in draft.params):
        return f"WhatsApp template {draft.template} (personalised for each recipient)"
    params = ", ".join(repr(p) for p in draft.params) or "no parameters"
    return f"WhatsApp template {draft.template} ({params})"


def message_line(item: Item) -> str:
    if item.text:
        return item.text
    params = ", ".join(repr(p) for p in item.params) or "none"
    return f"(template body not known to this server; parameters: {params})"


def repeat_line(item: Item) -> str | None:
    if item.repeat is None:
        return None
    state = "is approved and about to be sent" if item.repeat.status == "approved" else f"was {item.repeat.status}"
    when = fmt_time(item.repeat.at)
    return f"REPEAT: the same message to this contact {state} at {when} (send #{item.repeat.send_id})"


def render_text(
    draft: Draft,
    items: list[Item],
    reasons: list[str],
    *,
    approval_id: str,
    expires_at: datetime,
    digest: str,
    page_url: str | None = None,
) -> str:
    """The whole preview; with ``page_url``, a batch larger than ``DIALOG_FIRST`` shows its first
    messages and links to the page that lists every one (a dialog cannot hold fifty messages)."""
    n = len(items)
    shown = items[:DIALOG_FIRST] if page_url and n > DIALOG_FIRST else items
    lines = [
        f"Send {n} {describe(draft)}{'s' if n > 1 and draft.kind == 'session' else ''}"
        f"{' to ' + str(n) + ' recipients' if n > 1 else ''}? Nothing is sent unless you accept.",
        "",
    ]
    for item in shown:
        r = item.recipient
        # One line per recipient: the number from the contact record, the name (already flattened to
        # one capped line) between guillemets, so no name can pose as another recipient or a message.
        lines.append(f"{item.seq}. To +{r.phone.lstrip('+')} «{r.name or 'no name'}»")
        lines.extend(f"   | {line}" for line in message_line(item).splitlines() or [""])
        repeat = repeat_line(item)
        if repeat:
            lines.append(f"   {repeat}")
    if len(shown) < n:
        rest = items[len(shown) :]
        repeats = sum(i.repeat is not None for i in rest)
        lines += [
            "",
            f"... and {len(rest)} more message(s){f', {repeats} of them REPEATS' if repeats else ''}. "
            f"Read every message before you accept: {page_url}",
        ]
    lines += ["", "Allowed because: " + "; ".join(reasons) + "."]
    lines.append(f"Approval {approval_id[:8]} · expires {fmt_time(expires_at)} · payload {digest[:12]}")
    # Never cut otherwise: the human approves every recipient and every message.
    return "\n".join(lines)
