"""The built-in offline model: deterministic answers that need no network, so Deputy works end to end out of
the box (CONTRACT.md, "The built-in offline model"), and the drafts of signed inbound webhooks."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from typing import Any

from agents import offline_calendar, prompts, rewrites, when
from agents.headlines import SUBJECT_MAX, clip
from agents.offline_records import record_change
from agents.offline_tools import tool_call
from agents.playbooks import Playbook, by_triggers
from agents.prompts import Message
from agents.triage import INBOX, inbound_email
from connectors import email, notes
from orchestrator.model import Draft, ProposalDraft

_TOPIC = re.compile(r"\b(?:about|on|regarding|concerning|re:?)\s+(?P<topic>.+)$", re.I)
_ARTICLE = re.compile(r"^(?:a|an|the)\s+", re.I)
_POST = re.compile(
    r"^\s*(?:please\s+)?post\s+(?P<text>.+?)\s+to\s+(?:the\s+)?(?P<name>[\w-]+)(?:\s+webhook)?\s*$", re.I | re.S
)
CALENDAR = {"calendar": offline_calendar.booking, "agenda": offline_calendar.agenda}
_WEBHOOK = re.compile(r"^\s*webhook\s+(?P<name>[\w-]+)\s*:?\s*(?P<text>.*)$", re.I | re.S)


class OfflineModel:
    """Deputy's built-in model. It reads the same prompts a real model gets (the step, the playbook, the
    tagged request and memory) and answers the same JSON, deterministically and for free, so every step of
    the playbook runner — validation, cache, cost accounting — runs the same way offline."""

    name = "offline"

    def __init__(self, playbooks: dict[str, Playbook], *, latency_ms: int = 0, sender_name: str = "") -> None:
        self.playbooks, self.latency_ms, self.sender_name = playbooks, latency_ms, sender_name

    async def respond(self, messages: list[Message]) -> str:
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        return json.dumps(self.answer(messages), ensure_ascii=False)

    def answer(self, messages: list[Message]) -> dict[str, Any]:
        step, text = prompts.step_of(messages), prompts.text_of(messages)
        request = prompts.unquote("request", text).strip()
        if step == "classify":
            found = by_triggers(self.playbooks, request)
            return {"playbook": found.name if found else "note"}
        if step == "verify":
            return {"ok": True}
        if step == "revise":
            return rewrites.revise(
                json.loads(prompts.unquote("draft", text) or "{}"), prompts.unquote("feedback", text)
            )
        playbook = next((line[10:].split(" ")[0] for line in text.splitlines() if line.startswith("Playbook: ")), "")
        memory, recent = prompts.unquote("memory", text), prompts.unquote("recent", text)
        if playbook == "email":
            return self._email(request, memory, recent)
        if playbook == "onboarding":
            return self._onboard(request, list(self.playbooks["onboarding"].spec.fields))
        if playbook in ("later", "remind"):
            now = when.now_in(str(messages[0].get("content", "")))
            return _later(request, now, remind=playbook == "remind") if now else _plan(request, memory)
        if playbook in CALENDAR and (now := when.now_in(str(messages[0].get("content", "")))):
            return CALENDAR[playbook](request, memory, now)
        drafts = {"webhook": _webhook, "answer": _answer, "record": record_change, "tool": tool_call}
        return drafts.get(playbook, _plan)(request, memory)

    def _email(self, text: str, memory: str, recent: str = "") -> dict[str, Any]:
        if _FOLLOW_UP.match(text):
            redo = _redirect(recent, _address_in(text))
            if redo is None:
                return {"question": "Send it to whom? Give me their address, e.g. 'send it to maria@acme.com'."}
            text = redo
        address = _address_in(text) or _address_for_name(text, memory)
        if address is None:
            return {"question": "Who should I email? Add their address, e.g. 'email jane@acme.com about invoice 42'."}
        after = text.split(address, 1)[1] if address in text else re.sub(r"^\S+\s+\S+", "", text)
        after = after.strip(" ,.;:-")
        topic_match = _TOPIC.search(after)
        topic = (topic_match["topic"] if topic_match else after).strip(" .") or "a quick note"
        subject = _ARTICLE.sub("", after.strip(" .")) or "Hello"
        subject = clip(subject[0].upper() + subject[1:], SUBJECT_MAX)
        body = self._body(address, topic, memory, follow_up="follow" in text.lower())
        fields = {"to": address, "subject": subject, "body": body}
        return {"summary": clip(f"Email {address}: {subject}"), "confidence": 0.9, "fields": fields}

    def _body(self, to: str, topic: str, memory: str, *, follow_up: bool) -> str:
        name = _name_for(to, memory) or re.split(r"[._+\-]", to.split("@")[0])[0].capitalize() or "there"
        opening = f"I wanted to follow up on {topic}." if follow_up else f"I'm writing about {topic}."
        terms_line = "".join(f"\n\nAs a reminder: {fact}." for fact in _terms_for(to, memory))
        sign = f"\n{self.sender_name}" if self.sender_name else ""
        return (
            f"Hi {name},\n\n{opening}{terms_line}\n\nPlease let me know if you have any questions.\n\n"
            f"Best regards,{sign}\n"
        )

    def _onboard(self, text: str, fields: list[str]) -> dict[str, Any]:
        """ "onboard Piotr Kowalski piotr@northwind.example": a welcome email, a CRM line and a client note, in
        the fields this deployment's playbook asks for (no CRM line where no webhook named crm is configured)."""
        rest = _ONBOARD.sub("", text, count=1)
        address = _address_in(rest)
        if address is None:
            example = "onboard Piotr Kowalski piotr@northwind.example"
            return {"question": f"What is the new client's address? e.g. '{example}'."}
        before, _, after = rest.partition(address)
        name = " ".join(before.split()).strip(" ,.;:-<>()") or address.split("@")[0].split(".")[0].capitalize()
        first, sign = name.split()[0], f"\n{self.sender_name}" if self.sender_name else ""
        extra = after.strip(" ,.;:-")
        drafted = {
            "name": name,
            "to": address,
            "subject": f"Welcome, {first}",
            "body": f"Hi {first},\n\nWelcome aboard — we're glad to be working with you. I'll be in touch shortly "
            f"about the next steps; just reply to this email with any questions.\n\nBest regards,{sign}\n",
            "crm": f"New client: {name} <{address}>",
            "note_title": f"Client: {name}",
            "note": f"{name} <{address}> is a new client, welcomed by email." + (f"\n{extra}" if extra else ""),
        }
        parts = ["welcome email", *(["CRM post"] if "crm" in fields else []), "client note"]
        summary = f"Onboard {name}: {', '.join(parts)}"
        return {"summary": summary, "confidence": 0.9, "fields": {k: drafted[k] for k in fields if k in drafted}}


_ONBOARD = re.compile(r"^\s*(?:please\s+)?onboard\s+(?:(?:the|a)\s+)?(?:new\s+)?(?:client\s+)?", re.I)
_FOLLOW_UP = re.compile(r"^\s*(?:now\s+|ok\s+|actually\s+)?(?:send|forward)\s+it\s+to\b", re.I)
_ADDRESS = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")  # from a run's start: linear (records.py)


def _address_in(text: str) -> str | None:
    """The first word with an @, as written (a malformed one is for validation to refuse, not to skip)."""
    word = next((w for w in text.split() if "@" in w), None)
    return word.strip("<>,.;:()[]\"'") if word else None


def _facts(memory: str) -> list[str]:
    return [text for _, text in prompts.memory_records(memory)]


def _address_for_name(text: str, memory: str) -> str | None:
    """ "email Jane about …": the address of a person memory names."""
    words = {w.lower() for w in re.findall(r"[A-Za-z]{3,}", text)}
    for fact in _facts(memory):
        address = _address_in(fact)
        names = {w.lower() for w in re.findall(r"\b[A-Z][a-z]{2,}", fact)}
        if address and words & names:
            return address
    return _address_by_local_part(text, memory)


def _address_by_local_part(text: str, memory: str) -> str | None:
    """ "email Jane …" with "…, contact jane@acme.com" remembered: a name the request capitalises that is a word of
    exactly one remembered address's local part (jane@, jane.doe@) — a fixed key, not a guess; two candidates ask."""
    names = {w.lower() for w in re.findall(r"\b[A-Z][a-z]{2,}", text)}
    found = {
        a.lower()
        for fact in _facts(memory)
        for a in _ADDRESS.findall(fact)
        if names & set(re.split(r"[._+\-]", a.split("@")[0].lower()))
    }
    return found.pop() if len(found) == 1 else None


def _name_for(address: str, memory: str) -> str:
    """The first name memory gives for an address ("… is Jane Doe, jane@acme.com" → Jane)."""
    for fact in _facts(memory):
        if address.lower() in fact.lower():
            before = fact.lower().split(address.lower())[0]
            names = re.findall(r"\b([A-Z][a-z]+)(?:\s+[A-Z][a-z]+)?\s*[,(<]?\s*$", fact[: len(before)])
            if names:
                return str(names[-1])
    return ""


def _terms_for(address: str, memory: str) -> list[str]:
    """Payment terms memory holds for the recipient's company (its domain's name appears in the fact)."""
    company = address.split("@")[-1].split(".")[0].lower()
    return [
        f.rstrip(".")
        for f in _facts(memory)
        if company in f.lower()
        and address.lower() not in f.lower()
        and re.search(r"\b(pays?|net \d+|terms)\b", f, re.I)
    ][:1]


def _redirect(recent: str, to: str | None = None) -> str | None:
    """ "send it to her instead": the last email request again, to `to` or else to the most recent other
    address in the conversation (the working set). None when there is nothing to go on."""
    turns = [tuple(line.split(": ", 1)) for line in recent.splitlines() if ": " in line]
    asks = [
        i
        for i, (role, text) in enumerate(turns)
        if role == "operator" and re.match(r"\s*(?:please\s+)?e-?mail\b", text, re.I)
    ]
    if not asks:
        return None
    ask = turns[asks[-1]][1]
    answer = next((text for role, text in turns[asks[-1] + 1 :] if role == "deputy"), "")
    sent_to = re.search(r"\bto=([^\s,]+@[^\s,]+)", answer)
    old = _address_in(ask) or (sent_to[1] if sent_to else None)
    others = [a for _, text in turns for a in _ADDRESS.findall(text) if a != old]
    new = to or (others[-1] if others else None)
    if new is None:
        return None
    if old and old in ask:
        return ask.replace(old, new)
    return f"email {new} {' '.join(ask.split()[2:])}"


_FOLLOW_UP_WITH = re.compile(r"^\s*(?:please\s+)?follow\s+up\s+with\s+(?P<who>\S+)\s*(?P<rest>.*)$", re.I | re.S)
_REMIND_ME = re.compile(r"^\s*(?:please\s+)?remind\s+me\s+(?:to\s+|that\s+|about\s+)?", re.I)


def _later(text: str, now: datetime, *, remind: bool) -> dict[str, Any]:
    """ "follow up with piotr@… in 3 days about the contract": at that time, an email follow-up is drafted;
    "remind me tomorrow at 9 to call Anna": at that time, the reminder is said."""
    found = when.parse(text, now)
    if found is None:
        return {"question": "When should I do it? e.g. 'in 3 days', 'tomorrow at 9' or 'in 30 minutes'."}
    at, rest = found
    if remind:
        request = _REMIND_ME.sub("", rest, count=1).strip(" .") or rest
        summary = clip(f"Remind you {_day(at)}: {request}")
    else:
        follow = _FOLLOW_UP_WITH.match(rest)
        who = follow["who"].strip(",.;:") if follow else ""
        topic = _TOPIC.search(follow["rest"]) if follow else None
        request = f"email {who} a follow-up about {topic['topic'].strip(' .')}" if topic else f"email {who} a follow-up"
        request = request if who else rest
        summary = clip(f"Follow up {_day(at)}: {request}")
    return {
        "summary": summary,
        "confidence": 0.9,
        "fields": {"at": at.isoformat(timespec="seconds"), "request": request},
    }


def _plan(text: str, memory: str) -> dict[str, Any]:
    """A note: the card's headline says what it is a plan for (once), the note's title is the request and its
    body is the plan itself — the card shows the headline, then the note with its body."""
    title = text if len(text) <= 80 else text[:79] + "…"
    plan = "\n".join(
        [
            "1. Pin down the goal, the deadline and who is involved.",
            "2. Gather what Deputy knows (memory, recent messages).",
            "3. Draft the work and bring any outside action back to you for approval.",
        ]
    )
    return {"summary": f"Plan for: {title}", "confidence": 0.9, "fields": {"title": title, "body": plan}}


def _answer(text: str, memory: str) -> dict[str, Any]:
    facts = prompts.memory_records(memory)
    if not facts:
        return {"question": f"I don't have anything in memory about “{text}”. Tell me with /remember <fact>."}
    lines = "\n".join(f"  • {fact}  ({record_id})" for record_id, fact in facts)
    return {"summary": "From memory", "confidence": 0.9, "fields": {"answer": "From memory:\n" + lines}}


def _webhook(text: str, memory: str) -> dict[str, Any]:
    post = _POST.match(text) or _WEBHOOK.match(text)
    if post is None:
        return {"question": "Which webhook, and what should I post? e.g. 'post order #12 shipped to orders'."}
    name, message = post["name"], post["text"].strip().strip("\"'“”")
    if not message:
        return {"question": f"What should I post to {name}? e.g. 'post new order #12 shipped to {name}'."}
    fields = {"name": name, "text": message}
    return {"summary": f"Post to webhook {name}: {message[:80]}", "confidence": 0.9, "fields": fields}


def inbound_hook(name: str, body: str) -> Draft:
    """A signed inbound webhook. Its body is untrusted data: it may supply a reply address and words to quote,
    never the kind of action or who approves. A lead with a valid email gets a drafted reply; anything else
    becomes a note. The kinds are the email and note connectors' own (whatever playbooks a shadow run swaps in).
    The inbox's emails come this way too (agents/triage.py)."""
    if name == INBOX:
        return inbound_email(body)
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    fields = data if isinstance(data, dict) else {}
    sender = str(fields.get("email", "")).strip()
    if sender and "@" in sender and " " not in sender:
        return _lead_reply(name, sender, fields)
    title = f"Inbound webhook {name}"
    return ProposalDraft(
        playbook="note",
        summary=f"{title}: {body[:120]}",
        risk="low",
        actions=[(notes.TRAITS.kind, {"title": title, "body": body[:4000]})],
    )


def _lead_reply(name: str, sender: str, fields: dict[str, Any]) -> ProposalDraft:
    who = str(fields.get("name", "")).strip().split(" ")[0][:40] or "there"
    quoted = "\n".join(f"> {line}" for line in str(fields.get("message", "")).strip().splitlines()[:20])
    body = (
        f"Hi {who},\n\nThanks for getting in touch — we got your message and will reply properly soon.\n"
        + (f"\nYou wrote:\n{quoted}\n" if quoted else "")
        + "\nBest regards,\n"
    )
    return ProposalDraft(
        playbook="email",
        summary=f"Reply to a new lead from webhook {name}: {sender}",
        risk="medium",
        actions=[(email.TRAITS.kind, {"to": sender, "subject": "Thanks for getting in touch", "body": body})],
    )


def _day(at: datetime) -> str:
    """`Wed 9 Dec 12:09`: the card's action line (connectors/later.py) writes it the same way."""
    return f"{at:%a} {at.day} {at:%b %H:%M}"
