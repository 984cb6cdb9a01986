"""The approval page: a human reviews a prepared send and approves or rejects it.

``GET /approvals/{id}/{secret}`` shows the preview; ``POST`` to the same address with the page's
form token decides. The id is unguessable, the secret is kept only as a hash, the form token is
shown only inside the page, and a decision must come from a browser form post (Sec-Fetch-Site /
Origin), so a model handed the link cannot approve by fetching it. After a decision the link is
dead. Everything customer-written is HTML-escaped.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from ...api.errors import OutPerformError
from ...bodies import BodyTooLarge, read_capped
from ...guard.preview import fmt_time
from ...guard.service import BatchStatus, GuardError
from ...textsafe import one_line
from ..deps import Deps

log = logging.getLogger(__name__)

# Where the page is served; approval_flow builds the links to it from this.
APPROVAL_PATH = "/approvals"

_HEADERS = {
    # The URL carries the secret: never leak it through Referer, caches or frames. Not "no-referrer":
    # under it a browser sends "Origin: null" with the page's own form post, which the origin check
    # below must refuse; "same-origin" keeps the real Origin for our post and tells other sites nothing.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
}
_MAX_FORM = 4096  # the page's form is a few hundred bytes
BODY_TIMEOUT = 10.0  # seconds for that form to arrive

# On a phone each recipient's row becomes a card of labelled cells (the header row would not fit).
_STYLE = """
*{box-sizing:border-box}
body{font:16px/1.45 system-ui,sans-serif;max-width:46rem;margin:1.5rem auto;padding:0 1rem;color:#222;
overflow-wrap:break-word}
h1{font-size:1.6rem;line-height:1.2;margin:.5rem 0 1rem}
.msg{border-collapse:collapse;margin:.75rem 0;width:100%}
.msg td,.msg th{border:1px solid #ccc;padding:.5rem;vertical-align:top;text-align:left}
.number{white-space:nowrap}
.text{white-space:pre-wrap;overflow-wrap:anywhere;background:#f4f4f4;padding:.5rem .625rem;border-radius:6px;
margin-top:.375rem}
.repeat{color:#a40;font-weight:bold}.meta{color:#555;font-size:.875rem}
form{display:flex;flex-wrap:wrap;gap:1rem;margin:1.5rem 0 2rem}
button{font:inherit;font-size:1.125rem;min-height:3rem;padding:.625rem 1.5rem;border-radius:8px;cursor:pointer}
.approve{background:#1a7f37;color:#fff;border:0}.reject{background:#fff;color:#222;border:2px solid #888}
@media (max-width:32rem){button{flex:1 1 100%}
.msg,.msg tbody,.msg tr{display:block}.msg tr:first-child{display:none}
.msg tr{border:1px solid #ccc;border-radius:8px;margin:.75rem 0;padding:.25rem}
.msg td{display:block;border:0;border-bottom:1px solid #eee}.msg td:last-child{border-bottom:0}
.msg td:nth-child(1)::before{content:"# "}.msg td:nth-child(2)::before{content:"To: "}
.msg td:nth-child(3)::before{content:"Number: "}}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">'
        f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(doc, status_code=status, headers=_HEADERS)


_INVALID = "<p>This approval link is not valid. Ask the assistant to prepare the message again.</p>"


def _messages(batch: BatchStatus) -> str:
    # Recipients as table cells, never run-on text: a name cannot pose as a second recipient or number.
    rows = []
    for s in batch.sends:
        what = f"template <b>{_e(s.template)}</b>" if s.template else "free-text message"
        text = s.text or "(template body not known to this server; parameters: " + ", ".join(s.params) + ")"
        repeat = ""
        if s.repeat_of is not None:
            repeat = (
                '<p class="repeat">REPEAT: the same message to this contact already went out '
                f"or is about to (send #{s.repeat_of}).</p>"
            )
        status = "" if s.status in ("prepared", "approved") else f' <span class="meta">[{_e(s.status)}]</span>'
        rows.append(
            f'<tr><td>{s.seq}</td><td class="name">{_e(one_line(s.name, 60) or "(no name)")}</td>'
            f'<td class="number">+{_e(s.phone.lstrip("+"))}</td><td>{what}{status}'
            f'<div class="text">{_e(text)}</div>{repeat}</td></tr>'
        )
    head = "<tr><th>#</th><th>Name</th><th>Number</th><th>Message</th></tr>"
    return f'<table class="msg">{head}{"".join(rows)}</table>'


def _preview(batch: BatchStatus, form_token: str, action: str) -> str:
    a = batch.approval
    n = len(batch.sends)
    reasons = "".join(f"<li>{_e(r)}</li>" for r in a.allowed_because)
    return (
        f"<p>An assistant asks to send <b>{n}</b> WhatsApp message{'s' if n > 1 else ''}. "
        "Nothing is sent unless you approve. Check every recipient and every word.</p>"
        f"{_messages(batch)}"
        f"<p>Allowed because:</p><ul>{reasons}</ul>"
        f'<p class="meta">Approval {_e(a.id[:8])} · expires {_e(fmt_time(a.expires_at))} · '
        f"payload {_e(a.digest[:12])}</p>"
        f'<form method="post" action="{_e(action)}">'
        f'<input type="hidden" name="form_token" value="{_e(form_token)}">'
        '<button class="approve" type="submit" name="decision" value="approve">Approve and send</button>'
        '<button class="reject" type="submit" name="decision" value="reject">Reject</button></form>'
    )


def _outcome(batch: BatchStatus) -> HTMLResponse:
    a = batch.approval
    counts = ", ".join(f"{n} {status}" for status, n in sorted(batch.counts.items()))
    if a.status == "used":
        title = "Sent" if batch.counts.get("sent") == len(batch.sends) else "Send finished"
        body = f"<p>Result: {_e(counts)}.</p>{_messages(batch)}<p>You can close this page.</p>"
    elif a.status == "rejected":
        title, body = "Rejected", "<p>Nothing was sent. You can close this page.</p>"
    elif a.status == "refused":
        title = "Not sent"
        reason = batch.refusals[0].reason if batch.refusals else (a.note or "refused by the sending policy")
        body = f"<p>Approved, but the sending policy refused it: {_e(reason)}. Nothing was sent.</p>"
    else:
        title, body = "No longer valid", f"<p>This approval is {_e(a.status)}. Nothing more can be done here.</p>"
    return _page(title, body)


def _from_browser_form(request: Request, public_url: str | None) -> str | None:
    """Why this POST is not a browser submitting our own page's form, or None when it is."""
    site = request.headers.get("sec-fetch-site")
    if site != "same-origin":
        return "open the approval link in a web browser and use its buttons"
    origin = request.headers.get("origin")
    # Behind a proxy the Host seen here may differ from the address people use (OUTPERFORM_PUBLIC_URL).
    ours = {request.headers.get("host", ""), urlsplit(public_url).netloc if public_url else ""} - {""}
    if origin is not None and urlsplit(origin).netloc not in ours:
        return "the decision did not come from this page"
    return None


def approval_routes(deps: Deps, *, body_timeout: float = BODY_TIMEOUT) -> Sequence[BaseRoute]:
    guard = deps.guard

    async def show(request: Request) -> Response:
        approval_id = request.path_params["approval_id"]
        secret = request.path_params["secret"]
        batch = await guard.page_view(approval_id, secret)
        if batch is None:
            return _page("Invalid link", _INVALID, 404)
        if batch.approval.status != "pending":
            # After a decision (or expiry) the link shows nothing of the message any more.
            return _page("No longer valid", f"<p>This approval is {_e(batch.approval.status)}.</p>", 410)
        return _page("Approve WhatsApp send?", _preview(batch, guard.form_token(batch.approval), request.url.path))

    async def decide(request: Request) -> Response:
        # The link first, the headers next, the (small, bounded) body last: nobody without a valid
        # link makes the server read anything.
        if await guard.page_view(request.path_params["approval_id"], request.path_params["secret"]) is None:
            return _page("Invalid link", _INVALID, 404)
        if guard.settings.approval_page_browser_only:
            problem = _from_browser_form(request, deps.settings.public_url or deps.public_url)
            if problem is not None:
                log.warning("approval page: refused a decision not posted from the page (%s)", problem)
                return _page("Not accepted", f"<p>Not accepted: {_e(problem)}.</p>", 403)
        try:
            body = await read_capped(request, _MAX_FORM, body_timeout)
        except BodyTooLarge:
            return _page("Not accepted", "<p>Form too large.</p>", 413)
        except TimeoutError:
            return _page("Not accepted", "<p>The form took too long to arrive. Try again.</p>", 408)
        except ClientDisconnect:
            return _page("Not accepted", "<p>The connection closed before the form arrived.</p>", 400)
        form = parse_qs(body.decode("utf-8", "replace"))
        decision = (form.get("decision") or [""])[0]
        token = (form.get("form_token") or [""])[0]
        if decision not in ("approve", "reject") or not token:
            return _page("Not accepted", "<p>Use the Approve or Reject button on the page.</p>", 400)
        try:
            batch = await guard.decide_from_page(
                request.path_params["approval_id"], request.path_params["secret"], token, decision == "approve"
            )
        except GuardError:
            batch = None
        except OutPerformError:
            # The policy is checked again against the API before sending; without it nothing goes out.
            return _page(
                "Not sent yet",
                "<p>The contact could not be checked with OutPerform just now, so nothing was sent. "
                "The approval is still open: try the button again in a moment.</p>",
                503,
            )
        if batch is None:
            return _page("Not valid", "<p>This approval link is not valid or was already used.</p>", 410)
        return _outcome(batch)

    path = APPROVAL_PATH + "/{approval_id:str}/{secret:str}"
    return [Route(path, show, methods=["GET"]), Route(path, decide, methods=["POST"])]
