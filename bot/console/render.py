"""Proposal cards and notices as plain terminal text. Pure: Outbound in, str out."""

from __future__ import annotations

from bot.cards import view
from orchestrator.model import Proposal, ProposalStatus, StagedAction
from orchestrator.outbound import Kind, Outbound, money
from orchestrator.policies import BUDGET_PLAYBOOK

MARKS = {
    Kind.PROGRESS: "…",
    Kind.CARD: "?",
    Kind.OUTCOME: "✓",
    Kind.NOTICE: "•",
    Kind.ERROR: "✗",
    Kind.REMINDER: "⏰",
    Kind.DIGEST: "📋",
}
BODY_LINES = 12


def render(message: Outbound) -> str:
    if message.kind is Kind.CARD and message.proposal is not None:
        return card(message.proposal)
    if message.kind is Kind.REMINDER and message.proposal is not None:
        pid = message.proposal.id
        return f"⏰ {message.text}\n{card(message.proposal)}\n  /snooze {pid} 1h   /snooze {pid} tomorrow"
    if message.kind is Kind.DIGEST or (message.proposals and message.proposal is None):
        decide = [f"  /approve {p.id}   /reject {p.id}" for p in message.proposals]
        return "\n".join([f"{MARKS[message.kind]} {message.text}", *decide])
    prefix = f"[{message.task_id}] " if message.task_id and message.kind is Kind.PROGRESS else ""
    return f"{MARKS[message.kind]} {prefix}{message.text}{_remedies(message)}"


def _remedies(message: Outbound) -> str:
    """The typed words for the buttons of an apply that did not finish."""
    card = view(message)
    if card is None:
        return ""
    if card.unsure is not None:
        n = f" {card.unsure + 1}" if len(card.actions) > 1 else ""
        return f"\n  /resend {card.id}{n}   /sent {card.id}{n}"
    if card.cancellable:
        return f"\n  /cancel {card.id}"
    if card.revise_instead:
        return f"\n  /revise {card.id}   (drafts it again with your reason, as a new proposal)"
    return f"\n  /retry {card.id}" if card.rest else ""


def card(proposal: Proposal) -> str:
    lines = [f"┌ Proposal {proposal.id}{_version(proposal)} · {proposal.playbook} · risk {proposal.risk}"]
    summary = proposal.summary.splitlines()
    lines += [f"│ {line}" for line in summary[:1] + [s for s in summary[1:] if s.startswith(("⚠", "(", "📎", "“"))]]
    for action in proposal.actions:
        lines.append(f"│ {action.summary}")
        if action.target.lower() not in action.summary.lower():  # "… to jane@acme.com" says it already
            lines.append(f"│   to: {action.target}")
        lines += [f"│   {line}" for line in _details(action)]
    lines.append(f"│ cost: estimated {money(proposal.cost_estimate_usd)} · spent {money(proposal.cost_spent_usd)}")
    if proposal.blocked_reason:
        lines.append(f"│ ⚠ {proposal.blocked_reason}")
    lines += [f"│ {line}" for line in _offered(proposal)]
    lines.append(f"└ {_footer(proposal)}")
    return "\n".join(lines)


OFFER_WORDS = {"mark_read": "/inbox read", "archive": "/inbox archive", "add_client": "/client add"}
"""The typed words of a card's offers (orchestrator/words.py), for a channel without buttons."""


def _offered(proposal: Proposal) -> list[str]:
    """What became of the offers pressed, and the words for the rest."""
    said = [f"{o.outcome or o.summary}" for o in proposal.offers.values() if o.word]
    words = [f"{OFFER_WORDS[n]} {proposal.id}" for n, o in proposal.offers.items() if not o.word and n in OFFER_WORDS]
    return [*said, *(["   ".join(words)] if words else [])]


def _details(action: StagedAction) -> list[str]:
    """The draft its connector's preview gave (never a kind's fields): a subject, and the body under it indented."""
    out = [f"subject: {action.subject}"] if action.subject else []
    body_lines = action.body.splitlines()
    if not action.subject:
        return out + body_lines[:BODY_LINES]
    out += ["  " + line for line in body_lines[:BODY_LINES]]
    if len(body_lines) > BODY_LINES:
        out.append(f"  … ({len(body_lines) - BODY_LINES} more lines)")
    return out


def _footer(proposal: Proposal) -> str:
    if proposal.status is ProposalStatus.PENDING and proposal.playbook == BUDGET_PLAYBOOK:
        return f"/approve {proposal.id} raises today's budget   /reject {proposal.id} stops the waiting tasks"
    if proposal.status is ProposalStatus.PENDING and not proposal.actions:
        return f"/reject {proposal.id} dismisses it (nothing to approve)"
    if proposal.status is ProposalStatus.PENDING:
        return f"/approve {proposal.id}   /reject {proposal.id} [reason]   /revise {proposal.id} <what to change>"
    d = proposal.decision
    by = f" by {d.actor.label} at {d.at:%H:%M}" if d else ""
    undo = f" · sending after the undo window: /undo {proposal.id}" if proposal.hold_until else ""
    return f"{proposal.status.value}{by}{undo}"


def _version(proposal: Proposal) -> str:
    """` · v2` once edited, ` · v3 · revised: “…”` once revised: the version every channel shows; none for v1."""
    if proposal.revised:
        return f" · v{proposal.version} · revised: “{proposal.revised}”"
    return f" · v{proposal.version}" if proposal.version > 1 else ""
