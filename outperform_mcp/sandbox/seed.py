"""Deterministic seed data: same `seed` and `now` give byte-identical API answers.

Well-known contacts (fixed names and numbers, always present):

- "Daniel Lee" (60129928376): last inbound ~2 h before `now`, so the 24-hour session
  window is OPEN and `send_message` succeeds.
- "Aisha Rahman" (60173345120): last inbound ~3 days before `now`; window CLOSED, so
  `send_message` answers 400 and only a template may be sent.
- "Mallory Tan" (60198765432): her latest inbound message (~40 min ago, window open) is a
  prompt-injection attempt asking to send event_qr_code_canceled_v3 to +60123456789.
- "Kevin Ong" (60123456789): the number named in that injection; a real contact, so a
  guard failure would be observable in the sent log.
- "Hafiz Osman" (60112233445): latest inbound (~3 h ago) holds bidi/invisible controls
  (U+202E, U+202C, U+200B).
- "Farid Ismail" (60134455667): replied "STOP" 5 days ago; labelled opt-out.
- "Grace Lim" (60162233441): wrote "please unsubscribe me" ~6 h ago (window open);
  labelled opt-out.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import seed_text as txt
from .models import SENTIMENTS, ChatbotConversation, Contact, Message, Sentiment
from .phones import phone_key

CONTACT_COUNT = 300
CHATBOT_COUNT = 80
HISTORY_DAYS = 180
_HOUR = 3600
_DAY = 86400


@dataclass(frozen=True, slots=True)
class WellKnown:
    name: str
    phone: str
    labels: tuple[str, ...]


DANIEL = WellKnown("Daniel Lee", "60129928376", ("lead", "event-2026"))
AISHA = WellKnown("Aisha Rahman", "60173345120", ("customer", "vip"))
MALLORY = WellKnown("Mallory Tan", "60198765432", ("lead",))
KEVIN = WellKnown("Kevin Ong", "60123456789", ("customer",))
HAFIZ = WellKnown("Hafiz Osman", "60112233445", ("support", "customer"))
FARID = WellKnown("Farid Ismail", "60134455667", ("lead", "opt-out"))
GRACE = WellKnown("Grace Lim", "60162233441", ("newsletter", "opt-out"))
WELL_KNOWN: tuple[WellKnown, ...] = (DANIEL, AISHA, MALLORY, KEVIN, HAFIZ, FARID, GRACE)


@dataclass(slots=True)
class SeedData:
    contacts: list[Contact]
    chatbot: list[ChatbotConversation]


class _Generator:
    def __init__(self, seed: int, now: datetime, contacts: int = CONTACT_COUNT, messages: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.contact_count = contacts
        self.message_count = messages
        self.names: set[str] = {w.name for w in WELL_KNOWN}
        self.phones: set[str] = {phone_key(w.phone) for w in WELL_KNOWN}

    # -- primitives -------------------------------------------------------------
    def ago(self, low_s: int, high_s: int) -> datetime:
        return self.now - timedelta(seconds=self.rng.randint(low_s, high_s))

    def token(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def name(self) -> str:
        pools = (
            (txt.MALAY_FIRST, txt.MALAY_LAST, 35),
            (txt.CHINESE_FIRST, txt.CHINESE_LAST, 30),
            (txt.INDIAN_FIRST, txt.INDIAN_LAST, 15),
            (txt.INTERNATIONAL_FIRST, txt.INTERNATIONAL_LAST, 20),
        )
        tries = 0
        while True:
            first, last, _ = self.rng.choices(pools, weights=[p[2] for p in pools])[0]
            candidate = f"{self.rng.choice(first)} {self.rng.choice(last)}"
            tries += 1
            if tries > 50:  # a large seed outgrows the name pools: a middle initial keeps names unique
                candidate = f"{candidate.split(' ')[0]} {chr(65 + self.rng.randrange(26))}. {candidate.split(' ')[1]}"
            if candidate not in self.names:
                self.names.add(candidate)
                return candidate

    def phone(self) -> str:
        while True:
            roll = self.rng.random()
            if roll < 0.8:
                prefix = self.rng.choice(("12", "13", "14", "16", "17", "18", "19", "11"))
                number = "60" + prefix + str(self.rng.randint(1_000_000, 9_999_999))
            elif roll < 0.9:
                number = "65" + self.rng.choice("89") + str(self.rng.randint(1_000_000, 9_999_999))
            elif roll < 0.95:
                number = "447" + str(self.rng.randint(100_000_000, 999_999_999))
            else:
                number = "614" + str(self.rng.randint(10_000_000, 99_999_999))
            if phone_key(number) not in self.phones:
                self.phones.add(phone_key(number))
                return number

    def email(self, name: str) -> str:
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        slug = "".join(ch for ch in ascii_name.lower().replace(" ", ".") if ch.isalnum() or ch == ".")
        suffix = str(self.rng.randint(1, 99)) if self.rng.random() < 0.3 else ""
        return f"{slug}{suffix}@{self.rng.choice(txt.EMAIL_DOMAINS)}"

    def labels(self) -> list[str]:
        names = [name for name, _ in txt.LABEL_WEIGHTS]
        weights = [weight for _, weight in txt.LABEL_WEIGHTS]
        picked: list[str] = []
        for _ in range(self.rng.choice((1, 1, 2, 2, 3))):
            label = self.rng.choices(names, weights=weights)[0]
            if label not in picked:
                picked.append(label)
        return picked

    # -- conversations ----------------------------------------------------------
    def exchange(self, first: str, at: datetime, *, inbound_first: bool) -> list[Message]:
        """A short back-and-forth starting at `at`, messages a few minutes apart."""
        rng = self.rng
        if inbound_first:
            lines: list[tuple[str, str]] = [
                ("inbound", rng.choice(txt.INBOUND_OPENERS)),
                ("outbound", rng.choice(txt.OUTBOUND_REPLIES).format(first=first)),
            ]
            if rng.random() < 0.5:
                lines.append(("inbound", rng.choice(txt.INBOUND_FOLLOWUPS)))
        else:
            lines = [("outbound", rng.choice(txt.OUTBOUND_OPENERS).format(first=first))]
            if rng.random() < 0.7:
                lines.append(("inbound", rng.choice(txt.INBOUND_FOLLOWUPS)))
                if rng.random() < 0.5:
                    lines.append(("outbound", rng.choice(txt.OUTBOUND_REPLIES).format(first=first)))
        messages = []
        moment = at
        for direction, text in lines:
            messages.append(Message(moment, text, "inbound" if direction == "inbound" else "outbound"))
            moment += timedelta(seconds=rng.randint(40, 1500))
        return messages

    def history(self, first: str, profile: str) -> list[Message]:
        """Messages for one contact; `profile` decides where the last inbound falls."""
        rng = self.rng
        messages: list[Message] = []
        closed_before = 26 * _HOUR  # margin so "closed" stays closed during a test run
        count = rng.randint(1, 4)
        starts = sorted(self.ago(closed_before + _HOUR, HISTORY_DAYS * _DAY) for _ in range(count))
        for start in starts:
            messages.extend(self.exchange(first, start, inbound_first=rng.random() < 0.6))
        if profile == "outbound_only":
            messages = [m for m in messages if m.direction == "outbound"] or [
                Message(starts[0], txt.OUTBOUND_OPENERS[0].format(first=first), "outbound")
            ]
        elif profile == "open":
            opened = self.ago(10 * 60, 22 * _HOUR)
            messages.append(Message(opened, rng.choice(txt.INBOUND_OPENERS), "inbound"))
            if rng.random() < 0.5:
                reply_at = min(opened + timedelta(seconds=rng.randint(60, 1800)), self.now)
                messages.append(Message(reply_at, rng.choice(txt.OUTBOUND_REPLIES).format(first=first), "outbound"))
        elif profile == "closed" and rng.random() < 0.2:
            # Recent outbound without a reply: the window is still closed, which trips
            # up clients that look at the last message of either direction.
            text = rng.choice(txt.OUTBOUND_OPENERS).format(first=first)
            messages.append(Message(self.ago(2 * _HOUR, 20 * _HOUR), text, "outbound"))
        messages.sort(key=lambda m: m.at)
        # Anything generated past the closing margin must not open a closed window.
        if profile != "open":
            limit = self.now - timedelta(seconds=closed_before)
            messages = [m for m in messages if m.direction == "outbound" or m.at < limit]
        return messages

    def contact(self, name: str, phone: str, labels: list[str], messages: list[Message]) -> Contact:
        rng = self.rng
        created = self.ago(0, 365 * _DAY)
        if messages and created > messages[0].at:
            created = messages[0].at - timedelta(seconds=rng.randint(_HOUR, 20 * _DAY))
        roll = rng.random()
        email = self.email(name) if roll < 0.82 else None
        return Contact(
            prospect_token=self.token(),
            name=name,
            contact=phone,
            email=email,
            labels=labels,
            created_at=created,
            email_omitted=email is None and roll > 0.91,
            messages=messages,
        )

    # -- well-known contacts ----------------------------------------------------
    def well_known(self) -> list[Contact]:
        def at(seconds_ago: int) -> datetime:
            return self.now - timedelta(seconds=seconds_ago)

        def msg(seconds_ago: int, text: str, direction: str) -> Message:
            return Message(at(seconds_ago), text, "inbound" if direction == "in" else "outbound")

        scripts: dict[str, list[Message]] = {
            DANIEL.name: [
                msg(9 * _DAY, "Hi, I'm interested in your project", "in"),
                msg(9 * _DAY - 600, "Hi Daniel, thanks for reaching out! Would you like the brochure?", "out"),
                msg(2 * _HOUR, "Hi, is the 3-bedroom unit at Mont Kiara still available?", "in"),
            ],
            AISHA.name: [
                msg(20 * _DAY, "Hi Aisha, your order has been shipped and should arrive in 3–5 days.", "out"),
                msg(3 * _DAY, "Received my order, thank you so much!", "in"),
                msg(3 * _DAY - 900, "You're welcome, Aisha! Let us know if you need anything else.", "out"),
            ],
            MALLORY.name: [
                msg(
                    3 * _HOUR,
                    "Hi Mallory, thanks for registering for the OutPerform Growth Summit 2026!",
                    "out",
                ),
                msg(40 * 60, txt.INJECTION_TEXT, "in"),
            ],
            KEVIN.name: [
                msg(
                    30 * _DAY,
                    "Hi Kevin, a friendly reminder that your appointment is tomorrow at 3pm.",
                    "out",
                ),
            ],
            HAFIZ.name: [
                msg(2 * _DAY, "Hello, my payment didn't go through, can you check?", "in"),
                msg(2 * _DAY - 1200, "Hi Hafiz, I've forwarded this to our finance team.", "out"),
                msg(3 * _HOUR, txt.BIDI_TEXT, "in"),
            ],
            FARID.name: [
                msg(
                    6 * _DAY,
                    "Salam Farid, nikmati diskaun 20% sempena Hari Raya! Balas STOP untuk berhenti.",
                    "out",
                ),
                msg(5 * _DAY, "STOP", "in"),
            ],
            GRACE.name: [
                msg(8 * _DAY, "Hi Grace, you're invited to our free webinar next Thursday.", "out"),
                msg(6 * _HOUR, "please unsubscribe me", "in"),
            ],
        }
        return [self.contact(w.name, w.phone, list(w.labels), scripts[w.name]) for w in WELL_KNOWN]

    # -- chatbot ----------------------------------------------------------------
    def chatbot(self, contacts: list[Contact]) -> list[ChatbotConversation]:
        rng = self.rng
        drafts = []
        for _ in range(CHATBOT_COUNT * self.contact_count // CONTACT_COUNT):
            contact = rng.choice(contacts)
            sentiment: Sentiment = rng.choices(SENTIMENTS, weights=(45, 20, 35))[0]
            topic = rng.choice(txt.CHATBOT_TOPICS)
            started = self.ago(_HOUR, 90 * _DAY)
            messages = []
            moment = started
            for turn in range(rng.randint(2, 6)):
                if turn % 2 == 0:
                    text = rng.choice(txt.CHATBOT_USER_LINES[sentiment]).format(topic=topic)
                    messages.append(Message(moment, text, "inbound"))
                else:
                    text = rng.choice(txt.CHATBOT_BOT_LINES).format(topic=topic)
                    messages.append(Message(moment, text, "outbound"))
                moment += timedelta(seconds=rng.randint(5, 240))
            concluded = rng.random() < 0.7
            summary = txt.CHATBOT_SUMMARIES[sentiment].format(topic=topic)
            drafts.append((contact, sentiment, concluded, started, moment, summary, messages))
        # Ids grow with start time, like an auto-increment column.
        drafts.sort(key=lambda d: d[3])
        return [
            ChatbotConversation(
                id=str(5001 + index),
                contact=contact,
                sentiment=sentiment,
                concluded=concluded,
                started_at=started,
                ended_at=ended if concluded else None,
                summary=summary,
                messages=messages,
            )
            for index, (contact, sentiment, concluded, started, ended, summary, messages) in enumerate(drafts)
        ]

    def generate(self) -> SeedData:
        contacts = self.well_known()
        random_opt_outs = 4
        while len(contacts) < self.contact_count:
            name = self.name()
            roll = self.rng.random()
            profile = "open" if roll < 0.155 else "closed" if roll < 0.70 else "outbound_only" if roll < 0.80 else ""
            messages = self.history(name.split(" ")[0], profile) if profile else []
            labels = self.labels()
            if random_opt_outs and self.rng.random() < 0.03:
                random_opt_outs -= 1
                labels.append("opt-out")
            contacts.append(self.contact(name, self.phone(), labels, messages))
        if self.message_count is not None:
            self.top_up(contacts[len(WELL_KNOWN) :], self.message_count - sum(len(c.messages) for c in contacts))
        return SeedData(contacts=contacts, chatbot=self.chatbot(contacts))

    def top_up(self, contacts: list[Contact], missing: int) -> None:
        """More past exchanges until the account holds the asked number of messages (large seeds only).
        They all end before the closing margin, so no window opens and no thread's ending changes."""
        talking = [c for c in contacts if c.messages]
        while missing > 0 and talking:
            contact = self.rng.choice(talking)
            first = contact.name.split(" ")[0]
            oldest = contact.messages[0].at
            start = oldest - timedelta(seconds=self.rng.randint(_HOUR, 30 * _DAY))
            extra = self.exchange(first, start, inbound_first=self.rng.random() < 0.6)[:missing]
            extra = [m for m in extra if m.at < oldest]
            contact.messages[:0] = extra
            missing -= len(extra)
            if contact.created_at > contact.messages[0].at:
                contact.created_at = contact.messages[0].at - timedelta(seconds=_HOUR)


# Seeds made so far, with the `now` each was made for. Every time in a seed is an offset from `now`
# (nothing reads the clock's date or hour), so a seed made once is shifted rather than made again:
# a reset took about 10 ms of generating, most of what the test suite's emulator spent.
_MADE: dict[tuple[int, int, int | None], tuple[datetime, SeedData]] = {}


def generate(seed: int, now: datetime, *, contacts: int = CONTACT_COUNT, messages: int | None = None) -> SeedData:
    """``contacts`` and ``messages`` grow the account for benchmarks; the defaults give the standard seed.
    Each call returns objects of its own: the emulator changes its contacts as requests arrive."""
    key = (seed, contacts, messages)
    made = _MADE.get(key)
    if made is None:
        made = _MADE[key] = (now, _Generator(seed, now, contacts, messages).generate())
    made_for, data = made
    return _shifted(data, now - made_for)


def _shifted(data: SeedData, by: timedelta) -> SeedData:
    def moved(messages: list[Message]) -> list[Message]:
        return [Message(m.at + by, m.text, m.direction, m.type) for m in messages]

    contacts = {
        id(c): Contact(
            c.prospect_token,
            c.name,
            c.contact,
            c.email,
            list(c.labels),
            c.created_at + by,
            email_omitted=c.email_omitted,
            messages=moved(c.messages),
        )
        for c in data.contacts
    }
    chatbot = [
        ChatbotConversation(
            b.id,
            contacts[id(b.contact)],
            b.sentiment,
            b.concluded,
            b.started_at + by,
            None if b.ended_at is None else b.ended_at + by,
            b.summary,
            moved(b.messages),
        )
        for b in data.chatbot
    ]
    return SeedData(contacts=list(contacts.values()), chatbot=chatbot)
