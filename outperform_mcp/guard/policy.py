"""Send policy: what may be sent at all, whoever approves it. Pure functions over known facts.

Each refusal says why and what to do instead; each pass says why the send is allowed, so the
human's preview shows the reasons next to the message.
"""

from __future__ import annotations

from datetime import datetime

from ..settings import GuardSettings
from ..store.journal import Usage
from .model import Draft, Recipient, Refusal

__all__ = ["Usage", "check", "switch_and_quota"]


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def switch_and_quota(settings: GuardSettings, usage: Usage, count: int) -> tuple[list[str], list[Refusal]]:
    """The checks that can change between approval and send: run again at commit."""
    if not settings.sending_enabled:
        return [], [
            Refusal(
                "sending_disabled",
                "sending is switched off on this server (OUTPERFORM_SENDING_ENABLED=false)",
                "nothing can be sent until an administrator switches sending back on; tell the user",
            )
        ]
    reasons, refusals = [], []
    for label, limit, used in (
        ("hour", settings.max_sends_per_hour, usage.last_hour),
        ("day", settings.max_sends_per_day, usage.last_day),
    ):
        if not limit:
            continue
        if used + count > limit:
            refusals.append(
                Refusal(
                    "quota",
                    f"the quota of {limit} messages per {label} would be exceeded "
                    f"({used} already sent, {count} more asked)",
                    "wait and try later, or send to fewer recipients",
                )
            )
        else:
            reasons.append(f"{used + count} of {limit} messages this {label}")
    return reasons, refusals


def check(
    settings: GuardSettings, draft: Draft, recipients: list[Recipient], usage: Usage, now: datetime
) -> tuple[list[str], list[Refusal]]:
    reasons, refusals = switch_and_quota(settings, usage, len(recipients))
    more_reasons, more_refusals = check_recipients(settings, draft, recipients, now)
    return reasons + more_reasons, refusals + more_refusals


def check_recipients(
    settings: GuardSettings, draft: Draft, recipients: list[Recipient], now: datetime
) -> tuple[list[str], list[Refusal]]:
    """Allow-list, opt-out and the 24-hour window: run when planning and again at the moment of sending."""
    reasons: list[str] = []
    refusals: list[Refusal] = []
    if draft.kind == "template" and settings.template_allowlist and draft.template not in settings.template_allowlist:
        refusals.append(
            Refusal(
                "template_not_allowed",
                f"template {draft.template} is not on this server's allow-list",
                f"use one of: {', '.join(settings.template_allowlist)}",
            )
        )
    elif draft.kind == "template" and settings.template_allowlist:
        reasons.append(f"template {draft.template} is on the allow-list")
    for person in recipients:
        if person.opt_out:
            refusals.append(
                Refusal(
                    "opted_out",
                    f"{person.name or person.token} has opted out ({person.opt_out})",
                    "do not message this contact; remove them from the recipients",
                    person.token,
                )
            )
        if draft.kind == "session":
            closes = person.window.closes_at
            if not person.window.is_open(now):
                last = person.window.last_inbound_at
                seen = f"their last message was at {_fmt(last)}" if last else "they have never written"
                refusals.append(
                    Refusal(
                        "window_closed",
                        f"the 24-hour WhatsApp window with {person.name or person.token} is closed ({seen}); "
                        "free-text messages are only allowed within 24 hours of the customer's last message",
                        "send an approved template with send_template instead",
                        person.token,
                    )
                )
            elif closes is not None:
                reasons.append(f"24-hour window with {person.name or person.token} open until {_fmt(closes)}")
    if not any(r.code == "opted_out" for r in refusals):
        reasons.append("no recipient has opted out")
    if draft.kind == "template":
        reasons.append("a template may be sent outside the 24-hour window")
    return reasons, refusals
