"""The preview a human approves: who gets what, exactly, and why it is allowed (plain text)."""

from __future__ import annotations

from datetime import datetime

from .model import Draft, Item


def fmt_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def describe(draft: Draft) -> str:
    if draft.kind == "session":
        return "free-text WhatsApp message"
    params = ", ".join(repr(p) for p in draft.params) or "no parameters"
    return f"WhatsApp template {draft.template} ({params})"


def message_line(item: Item) -> str:
    return item.text if item.text else "(template body not known to this server: only its name and parameters)"


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
) -> str:
    n = len(items)
    lines = [
        f"Send {n} {describe(draft)}{'s' if n > 1 and draft.kind == 'session' else ''}"
        f"{' to ' + str(n) + ' recipients' if n > 1 else ''}? Nothing is sent unless you accept.",
        "",
    ]
    for item in items:
        r = item.recipient
        # One line per recipient: the number from the contact record, the name (already flattened to
        # one capped line) between guillemets, so no name can pose as another recipient or a message.
        lines.append(f"{item.seq}. To +{r.phone.lstrip('+')} «{r.name or 'no name'}»")
        lines.extend(f"   | {line}" for line in message_line(item).splitlines() or [""])
        repeat = repeat_line(item)
        if repeat:
            lines.append(f"   {repeat}")
    lines += ["", "Allowed because: " + "; ".join(reasons) + "."]
    lines.append(f"Approval {approval_id[:8]} · expires {fmt_time(expires_at)} · payload {digest[:12]}")
    # Never cut: the human approves every recipient and every message, so all of it is shown.
    return "\n".join(lines)
