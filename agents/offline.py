"""The built-in offline model: deterministic playbooks that need no network, so Deputy works end to end
out of the box (CONTRACT.md, "The built-in offline model")."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from orchestrator.model import Draft, ProposalDraft, Reply, Task
from orchestrator.ports import Facts

_EMAIL_VERB = re.compile(r"^\s*(?:please\s+)?(?:e-?mail|mail|send\s+(?:an?\s+)?e-?mail(?:\s+to)?|write\s+to)\b", re.I)
_TOPIC = re.compile(r"\b(?:about|on|regarding|concerning|re:?)\s+(?P<topic>.+)$", re.I)
_QUESTION = re.compile(r"^\s*(?:what|who|whom|when|where|which|how|does|do|is|are|did|can)\b|\?\s*$", re.I)
_ARTICLE = re.compile(r"^(?:a|an|the)\s+", re.I)
_POST = re.compile(
    r"^\s*(?:please\s+)?post\s+(?P<text>.+?)\s+to\s+(?:the\s+)?(?P<name>[\w-]+)(?:\s+webhook)?\s*$", re.I | re.S
)
_WEBHOOK = re.compile(r"^\s*webhook\s+(?P<name>[\w-]+)\s*:?\s*(?P<text>.*)$", re.I | re.S)


class OfflineDrafter:
    def __init__(self, facts: Facts, *, latency_ms: int = 0, sender_name: str = "") -> None:
        self.facts, self.latency_ms, self.sender_name = facts, latency_ms, sender_name

    async def draft(self, task: Task) -> Draft:
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        text = task.text.strip()
        if task.actor.platform == "hook":
            return inbound_hook(task.actor.user, text)
        verb, _, rest = text.partition(" ")
        memory = {"remember": self._remember, "recall": self._recall, "forget": self._forget}
        if verb.lower() in memory:
            return await memory[verb.lower()](rest.strip(), task)
        if _EMAIL_VERB.match(text):
            return self._email(text)
        if post := (_POST.match(text) or _WEBHOOK.match(text)):
            return _webhook(post["name"], post["text"].strip().strip("\"'“”"))
        if _QUESTION.search(text) and (found := await self.facts.recall(text)):
            return Reply("From memory:\n" + "\n".join(f"  • {fact}  ({fid})" for fid, fact in found))
        return self._plan(text)

    async def _remember(self, fact: str, task: Task) -> Reply:
        if not fact:
            return Reply("What should I remember? e.g. /remember ACME pays net 30", ok=False)
        fact_id = await self.facts.remember(fact, source=f"{task.actor.id} in task {task.id}")
        return Reply(f"Remembered ({fact_id}): {fact}")

    async def _recall(self, query: str, task: Task) -> Reply:
        found = await self.facts.recall(query, limit=5) if query else []
        if not found:
            return Reply(f"Nothing in memory matches “{query}”.")
        return Reply("\n".join(f"{fid}: {fact}" for fid, fact in found))

    async def _forget(self, fact_id: str, task: Task) -> Reply:
        removed = await self.facts.forget(fact_id) if fact_id else None
        if removed is None:
            return Reply(f"No fact with id “{fact_id}”. /recall <words> shows ids.", ok=False)
        return Reply(f"Forgot {fact_id}: {removed}")

    def _email(self, text: str) -> Draft:
        address = next((w for w in text.split() if "@" in w), None)
        if address is None:
            return Reply(
                "Who should I email? Add their address, e.g. 'email jane@acme.com about invoice 42'.", ok=False
            )
        after = text.split(address, 1)[1].strip(" ,.;:-")
        topic_match = _TOPIC.search(after)
        topic = (topic_match["topic"] if topic_match else after).strip(" .") or "a quick note"
        subject = _ARTICLE.sub("", after.strip(" .")) or "Hello"
        subject = subject[0].upper() + subject[1:]
        to = address.strip("<>,.;:()[]\"'")
        body = self._body(to, topic, follow_up="follow" in text.lower())
        return ProposalDraft(
            playbook="email",
            summary=f"Email {to}: {subject}",
            risk="medium",
            actions=[("email.send", {"to": to, "subject": subject[:120], "body": body})],
        )

    def _body(self, to: str, topic: str, *, follow_up: bool) -> str:
        name = re.split(r"[._+\-]", to.split("@")[0])[0].capitalize() or "there"
        opening = f"I wanted to follow up on {topic}." if follow_up else f"I'm writing about {topic}."
        sign = f"\n{self.sender_name}" if self.sender_name else ""
        return f"Hi {name},\n\n{opening}\n\nPlease let me know if you have any questions.\n\nBest regards,{sign}\n"

    @staticmethod
    def _plan(text: str) -> ProposalDraft:
        title = text if len(text) <= 80 else text[:79] + "…"
        plan = "\n".join(
            [
                f"Plan for: {title}",
                "1. Pin down the goal, the deadline and who is involved.",
                "2. Gather what Deputy knows (memory, recent messages).",
                "3. Draft the work and bring any outside action back to you for approval.",
            ]
        )
        return ProposalDraft(
            playbook="note", summary=plan, risk="low", actions=[("note.save", {"title": title, "body": plan})]
        )


def _webhook(name: str, text: str) -> Draft:
    if not text:
        return Reply(f"What should I post to {name}? e.g. 'post new order #12 shipped to {name}'.", ok=False)
    return ProposalDraft(
        playbook="webhook",
        summary=f"Post to webhook {name}: {text[:80]}",
        risk="medium",
        actions=[("webhook.post", {"name": name, "payload": {"text": text}})],
    )


def inbound_hook(name: str, body: str) -> Draft:
    """A signed inbound webhook. Its body is untrusted data: it may supply a reply address and words to quote,
    never the kind of action or who approves. A lead with a valid email gets a drafted reply; anything else
    becomes a note."""
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
        actions=[("note.save", {"title": title, "body": body[:4000]})],
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
        actions=[("email.send", {"to": sender, "subject": "Thanks for getting in touch", "body": body})],
    )
