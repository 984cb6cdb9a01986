"""Planning a send: validate the draft, resolve every recipient, render the exact texts, flag
repeats and run the policy. Reads the API and the store; writes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import anyio

from .. import phones
from ..api.client import OutPerformClient
from ..api.errors import OutPerformError
from ..settings import GuardSettings
from ..store import journal
from ..store.contacts import ContactState, is_opt_out
from ..store.db import Connection, Store
from ..store.optout import OptOutRules
from ..textsafe import clean, one_line
from . import personalise, policy
from .lookup import look_up
from .model import Draft, GuardError, Item, Plan, Recipient, Refusal, Repeat, content_key
from .templates import Catalogue, TemplateProblem

if TYPE_CHECKING:
    from ..api.models import Contact, Conversation  # only annotations here (see api/client.py)

MAX_TEXT = 4096  # WhatsApp's limit for a text message
MAX_PARAM = 1024
_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LOOKUP_CONCURRENCY = 8
MAX_NAME = 60  # a name shown to the approving human: one line, capped


def _first_leaf(group: BaseExceptionGroup[OutPerformError]) -> OutPerformError:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


class Planner:
    def __init__(
        self,
        api: OutPerformClient,
        store: Store,
        settings: GuardSettings,
        catalogue: Catalogue,
        clock: Callable[[], datetime],
        opt_out: OptOutRules,
    ) -> None:
        self.opt_out_rules = opt_out
        self.api = api
        self.store = store
        self.settings = settings
        self.catalogue = catalogue
        self.clock = clock

    def validate(self, draft: Draft) -> Draft:
        """Check and clean a draft; raise ``GuardError`` saying what to change."""
        tokens = tuple(draft.tokens)
        if not (draft.instance_id or self.api.settings.instance_id):
            # Checked before anyone is asked: a "yes" for a send that cannot go out wastes the human's time.
            raise GuardError(
                "no sending instance: pass instance_id (the WhatsApp number's instance) or set OUTPERFORM_INSTANCE_ID"
            )
        if not tokens:
            raise GuardError("name at least one recipient (a contact token from search_contacts)")
        if len(set(tokens)) != len(tokens):
            raise GuardError("a recipient is listed twice: list each contact token once")
        if len(tokens) > self.settings.max_batch:
            raise GuardError(
                f"{len(tokens)} recipients is more than the {self.settings.max_batch} allowed in one send: split it"
            )
        if draft.kind == "session":
            text = clean(draft.text or "").strip()
            if not text:
                raise GuardError("the message text is empty")
            if len(text) > MAX_TEXT:
                raise GuardError(f"the message is {len(text)} characters; WhatsApp allows {MAX_TEXT}")
            return Draft("session", tokens, text=text, instance_id=draft.instance_id, campaign=draft.campaign)
        name = (draft.template or "").strip()
        if not _TEMPLATE_NAME.match(name):
            raise GuardError("template names are lower-case letters, digits and underscores, e.g. event_reminder_v2")
        params = self._clean_params(draft.params)
        per_recipient = tuple((token, self._clean_params(p)) for token, p in draft.per_recipient)
        strangers = [t for t, _ in per_recipient if t not in tokens]
        if strangers:
            raise GuardError(f"per_recipient names {strangers[0]}, which is not in tokens: list every recipient there")
        shared_used = any(t not in dict(per_recipient) for t in tokens)
        lists = ([params] if shared_used else []) + [p for _, p in per_recipient]
        for values in lists:
            typo = personalise.unknown_fields(values)
            if typo:
                raise GuardError(
                    f"unknown placeholder {{{typo[0]}}}: parameters may use {{first_name}} or {{name}} only"
                )
            problem = personalise.unfinished(values, skip_fields=True)
            if problem:
                raise GuardError(f"{problem}: give the real value (or {{first_name}} for the contact's name)")
        if self.catalogue.known:
            template = self.catalogue.get(name)
            if template is None:
                known = ", ".join(self.catalogue.names())
                raise GuardError(f"unknown template {name}; known templates: {known} (see list_templates)")
            for values in lists:
                try:
                    template.render(list(values))
                except TemplateProblem as exc:
                    raise GuardError(str(exc)) from None
        return Draft(
            "template",
            tokens,
            template=name,
            params=params,
            instance_id=draft.instance_id,
            per_recipient=per_recipient,
            campaign=draft.campaign,
        )

    @staticmethod
    def _clean_params(raw: tuple[str, ...]) -> tuple[str, ...]:
        params = tuple(clean(p).strip() for p in raw)
        for p in params:
            if "|" in p:
                raise GuardError("template parameters cannot contain '|': rephrase that parameter")
            if len(p) > MAX_PARAM:
                raise GuardError(f"a template parameter is longer than {MAX_PARAM} characters")
        return params

    def render(self, draft: Draft, params: tuple[str, ...]) -> str:
        if draft.kind == "session":
            return draft.text or ""
        template = self.catalogue.get(draft.template or "")
        return template.render(list(params)) if template else ""

    def _fill(self, draft: Draft, person: Recipient) -> tuple[tuple[str, ...], Refusal | None]:
        """This recipient's filled-in parameters, or why they cannot be sent."""
        if draft.kind == "session":
            return (), None
        try:
            params = personalise.fill(draft.params_for(person.token), person.name)
        except personalise.ParamProblem as exc:
            problem: str | None = str(exc)
            params = ()
        else:
            problem = personalise.unfinished(params)
        if problem is None:
            return params, None
        who = person.name or person.token
        return params, Refusal(
            "params",
            f"the message to {who} is not ready: {problem}",
            "give this recipient's parameters in per_recipient, or drop them from tokens",
            person.token,
        )

    async def _recipient(self, token: str) -> Recipient | None:
        """The contact as it is now (CRM record, thread, inbox state), or None when it does not exist."""
        view = await look_up(self.api, self.store, token)
        person, conv, state = view.contact, view.conversation, view.state
        if person is None:
            return None
        return Recipient(
            token=token,
            # What the human sees comes from the contact record, flattened so a name cannot pose as
            # another recipient line or a message.
            name=one_line(person.name, MAX_NAME),
            phone=phones.digits(person.phone),
            labels=tuple(person.labels),
            window=view.window,
            opt_out=self._opt_out(person, conv, state),
        )

    def _opt_out(self, person: Contact, conv: Conversation | None, state: ContactState | None) -> str | None:
        blocked = set(self.settings.opt_out_labels)
        label = next((lbl for lbl in person.labels if lbl.lower() in blocked), None)
        if label:
            return f"label '{one_line(label, MAX_NAME)}'"
        if state is not None and state.opted_out_at is not None:
            return f"wrote {clean(state.opt_out_text or 'STOP')[:60]!r} on {state.opted_out_at:%Y-%m-%d}"
        for message in reversed(conv.messages if conv else []):
            if message.direction == "inbound" and is_opt_out(message.text, self.opt_out_rules):
                return f"wrote {clean(message.text)[:60]!r} on {message.timestamp:%Y-%m-%d}"
        return None

    async def recipients(self, tokens: tuple[str, ...]) -> dict[str, Recipient | None]:
        """Every token's contact as it is now, looked up a few at a time."""
        limiter = anyio.CapacityLimiter(_LOOKUP_CONCURRENCY)
        found: dict[str, Recipient | None] = {}

        async def lookup(token: str) -> None:
            async with limiter:
                found[token] = await self._recipient(token)

        try:
            async with anyio.create_task_group() as tg:
                for token in tokens:
                    tg.start_soon(lookup, token)
        except* OutPerformError as group:
            raise _first_leaf(group) from None
        return found

    async def plan(self, draft: Draft) -> Plan:
        """Resolve recipients, render the exact texts, flag repeats and run the policy."""
        draft = self.validate(draft)
        found = await self.recipients(draft.tokens)
        unknown = [t for t in draft.tokens if found.get(t) is None]
        if unknown:
            refusals = [
                Refusal(
                    "unknown_contact",
                    f"no contact with token {t}",
                    "recipients must be existing contacts: find the token with search_contacts "
                    "(never use a number taken from a message)",
                    t,
                )
                for t in unknown
            ]
            return Plan(draft, [], refusals=refusals)
        now = self.clock()
        since = now - timedelta(seconds=self.settings.repeat_window)
        people = [r for r in (found[t] for t in draft.tokens) if r is not None]
        personal = {p.token: self._fill(draft, p) for p in people}

        def facts(conn: Connection) -> tuple[policy.Usage, dict[str, Repeat]]:
            usage = journal.usage(conn, now)
            repeats = {}
            if self.settings.repeat_window:
                for person in people:
                    same = journal.last_same_message(
                        conn, content_key(draft, person.token, personal[person.token][0]), since
                    )
                    if same is not None:
                        repeats[person.token] = Repeat(same.id, same.status, same.sending_at or same.created_at)
            return usage, repeats

        usage, repeats = await self.store.run(facts)
        items = []
        for n, person in enumerate(people, start=1):
            params, problem = personal[person.token]
            text = self.render(draft, params) if problem is None else ""
            key = content_key(draft, person.token, params)
            items.append(Item(n, person, text, key, repeats.get(person.token), params))
        reasons, refusals = policy.check(self.settings, draft, people, usage, now)
        refusals += [r for _, r in personal.values() if r is not None]
        if self.settings.approval_mode == "none":
            # Nobody sees a "repeat" warning in this mode, so a repeat is refused outright.
            refusals += [
                Refusal(
                    "repeat",
                    f"the same message to {i.recipient.name or i.recipient.token} was {i.repeat.status} at "
                    f"{i.repeat.at:%Y-%m-%d %H:%M} UTC (send #{i.repeat.send_id})",
                    "check list_sends: it is not sent twice without a human's approval",
                    i.recipient.token,
                )
                for i in items
                if i.repeat is not None
            ]
        return Plan(draft, items, reasons, refusals)
