"""The reply to an email that needs one, drafted by the configured model (with the offline model, agents/triage.py's
template is the draft, made where the email comes in). The model writes only the body, in the inbox playbook's
shape (`{"fields": {"body": …}}`): the recipients, the "Re:" subject, In-Reply-To and References, the folder and
UID and the quote are code's, taken from the stored email by `triage.reply_fields`, whatever the model answers.
The email goes into the prompt inside the <request> tag, escaped like any untrusted text (agents/prompts.py), with
the client record its sender's address names and what memory recalls. A model that can't draft it (an error, the
budget, a paused provider, an invalid answer) leaves the template's body, and the card says so in one line: an
email is never lost for want of a model."""

from __future__ import annotations

import json
from dataclasses import replace

from agents.llm import Meter
from agents.playbooks import INBOX as PLAYBOOK
from agents.playbooks import Drafted
from agents.triage import INBOX, REPLY_KIND
from orchestrator.model import Draft, Proposal, ProposalDraft

TEXT_MAX = 3000
"""What of the email's text the prompt carries (the stored text is cut at this already)."""


def wanted(name: str, drafted: Draft) -> ProposalDraft | None:
    """The template of an inbox email's card that drafts a reply (the model's to write), or None."""
    replies = name == INBOX and isinstance(drafted, ProposalDraft) and [k for k, _ in drafted.actions] == [REPLY_KIND]
    return drafted if replies and isinstance(drafted, ProposalDraft) else None


def request(body: str) -> str:
    """The email as the prompt's request: who wrote, when, the subject and the text, attachments by name only."""
    item = json.loads(body)
    mail, client = item["mail"], item.get("client") or ""
    sender = f"{mail.get('sender_name')} <{mail.get('sender')}>" if mail.get("sender_name") else mail.get("sender")
    files = ", ".join(str(a.get("name")) for a in mail.get("attachments") or [])
    head = [
        "An email to reply to:",
        f"From: {sender}" + (f" (client record {client})" if client else ""),
        *([f"Date: {mail['date']}"] if mail.get("date") else []),
        f"Subject: {mail.get('subject') or '(no subject)'}",
        *([f"Attached: {files}"] if files else []),
    ]
    return "\n".join(head) + "\n\n" + str(mail.get("text") or "")[:TEXT_MAX]


def modelled(template: ProposalDraft, drafted: Drafted, meter: Meter, notes: list[str]) -> ProposalDraft:
    """The template's card with the model's body and nothing else of its answer; its cost and notes on the card.
    A model that asks back or writes nothing leaves the template."""
    body = str(drafted.fields.get("body", "")).strip()
    if drafted.question or not body:
        return unmodelled(template, drafted.question or "it wrote no body", meter)
    [(kind, fields)] = template.actions
    return replace(
        template,
        summary="\n".join([template.summary, *notes]),
        actions=[(kind, {**fields, "body": f"{body}\n"})],
        cost_estimate_usd=meter.usd,
        cost_spent_usd=meter.usd,
    )


def unmodelled(template: ProposalDraft, why: str, meter: Meter) -> ProposalDraft:
    """The template, saying in one line why the model's body isn't there (and what the attempt cost)."""
    line = f"⚠ The model could not draft this reply ({' '.join(why.split())[:200]}): the body is Deputy's template."
    return replace(
        template, summary=f"{template.summary}\n{line}", cost_estimate_usd=meter.usd, cost_spent_usd=meter.usd
    )


def as_request(playbook: str, text: str) -> str:
    """A task's text as its prompt's request: an inbox email's stored item as `request` writes it."""
    if playbook != PLAYBOOK:
        return text
    try:
        return request(text)
    except (ValueError, KeyError, TypeError, AttributeError):
        return text


def revised(playbook: str, draft: Draft, proposal: Proposal) -> Draft:
    """A revision of an inbox reply: the revised body, and everything else as the card had it — the recipients,
    the thread, the quote and the card's own summary, never the model's."""
    if playbook != PLAYBOOK or not isinstance(draft, ProposalDraft) or len(proposal.actions) != 1:
        return draft
    [(kind, fields)] = draft.actions
    kept = {**proposal.actions[0].fields, "body": f"{str(fields.get('body', '')).strip()}\n"}
    notes = draft.summary.splitlines()[1:]  # the runner's notes under a summary the model had no say in
    return replace(draft, summary="\n".join([proposal.summary.splitlines()[0], *notes]), actions=[(kind, kept)])
