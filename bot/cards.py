"""What a proposal card says, independent of any platform: each channel's renderer lays this out in its own
markup (Block Kit, Telegram HTML). Pure: a proposal in, words out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.model import ActionStatus, Proposal, ProposalStatus, StagedAction
from orchestrator.outbound import Kind, Outbound, money
from orchestrator.policies import BUDGET_PLAYBOOK

BODY_LINES = 8
BODY_CHARS = 600
HIGH_RISK = frozenset({"high", "critical"})
MARKS = {
    Kind.PROGRESS: "⏳",
    Kind.CARD: "📝",
    Kind.OUTCOME: "✅",
    Kind.NOTICE: "",
    Kind.ERROR: "⚠️",
    Kind.REMINDER: "⏰",
    Kind.DIGEST: "📋",
}
"""The mark in front of each kind of message on the chat platforms (the console has its own, plainer set)."""


@dataclass(frozen=True)
class ActionView:
    summary: str
    target: str
    subject: str
    body: str
    truncated: bool


@dataclass(frozen=True)
class CardView:
    id: str
    title: str
    playbook: str
    risk: str
    version: int
    actions: list[ActionView]
    cost: str
    blocked: str
    status: str
    pending: bool
    undoable: bool
    reminder: bool = False
    approve_label: str = "Approve"
    reject_label: str = "Reject"
    unsure: int | None = None
    """The index of the action that may not have been sent: its Send again and Mark as sent buttons."""
    rest: bool = False
    """A failure left actions to run: the Run the rest button (Try again for a single action)."""
    rest_label: str = "Run the rest"
    revisable: bool = False
    """Pending and not Deputy's own budget question: the Revise button."""
    revised: str = ""
    """The feedback the current version was revised with."""
    revise_instead: bool = False
    """Rejected with a reason, not yet revised: the one-tap Revise with this instead."""
    cancellable: bool = False
    """It scheduled a request for later that has not run: the Cancel button."""

    @property
    def version_line(self) -> str:
        """`v2 · revised: “warmer, mention the late fee”`: which version the card shows, and what made it."""
        return f"v{self.version}" + (f" · revised: “{self.revised}”" if self.revised else "")

    @property
    def truncated(self) -> bool:
        return any(a.truncated for a in self.actions)

    @property
    def high_risk(self) -> bool:
        return self.risk in HIGH_RISK


def view(message: Outbound) -> CardView | None:
    """The card for a message that carries a proposal; its text becomes the status line once decided."""
    proposal = message.proposal
    if proposal is None:
        return None
    pending = proposal.status is ProposalStatus.PENDING and message.kind in (Kind.CARD, Kind.REMINDER)
    return CardView(
        id=proposal.id,
        title=proposal.summary,
        playbook=proposal.playbook,
        risk=proposal.risk,
        version=proposal.version,
        actions=[_action(a) for a in proposal.actions],
        cost=f"est. {money(proposal.cost_estimate_usd)} · spent {money(proposal.cost_spent_usd)}",
        blocked=proposal.blocked_reason,
        status="" if pending and message.kind is Kind.CARD else _status(message, proposal),
        pending=pending,
        undoable=proposal.status is ProposalStatus.APPROVED and proposal.hold_until is not None and not message.final,
        reminder=message.kind is Kind.REMINDER and pending,
        unsure=_unsure(proposal),
        rest=_stopped(proposal),
        rest_label="Run the rest" if len(proposal.actions) > 1 else "Try again",
        revisable=pending and proposal.playbook != BUDGET_PLAYBOOK,
        revised=_short(proposal.revised),
        revise_instead=message.kind is Kind.OUTCOME and _rejected_with_reason(proposal),
        cancellable=message.kind is Kind.OUTCOME and _scheduled(proposal),
        **_labels(proposal),
    )


def _rejected_with_reason(proposal: Proposal) -> bool:
    d = proposal.decision
    if proposal.status is not ProposalStatus.REJECTED or d is None or not d.reason:
        return False
    return proposal.playbook != BUDGET_PLAYBOOK and not proposal.revised_as


def _scheduled(proposal: Proposal) -> bool:
    """A request for later was scheduled and nothing has become of it yet (it ran, or was cancelled)."""
    later = [a for a in proposal.actions if a.kind == "task.later" and a.status is ActionStatus.APPLIED]
    return any(not a.word for a in later)


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unsure(proposal: Proposal) -> int | None:
    """The action that may not have been sent (at most one: it stops the ones after it)."""
    states = [a.status for a in proposal.actions]
    return states.index(ActionStatus.UNCERTAIN) if ActionStatus.UNCERTAIN in states else None


def _stopped(proposal: Proposal) -> bool:
    """A failure stopped the proposal: something failed or was not run, and nothing is running."""
    states = {a.status for a in proposal.actions}
    ended = bool(states & {ActionStatus.FAILED, ActionStatus.NOT_RUN})
    return proposal.status is ProposalStatus.APPROVED and ended and ActionStatus.APPLYING not in states


def _labels(proposal: Proposal) -> dict[str, str]:
    """A budget question's buttons say what they do: raise today's cap, or stop the waiting tasks."""
    if proposal.playbook != BUDGET_PLAYBOOK or not proposal.actions:
        return {}
    return {
        "approve_label": f"Raise today's budget by {money(proposal.actions[0].fields['usd'])}",
        "reject_label": "Stop",
    }


def _status(message: Outbound, proposal: Proposal) -> str:
    if message.kind is Kind.CARD and proposal.decision is not None:  # auto-approved: say which rule
        return f"{message.text} · {proposal.decision.reason}" if proposal.decision.reason else message.text
    return message.text


def _action(action: StagedAction) -> ActionView:
    body = str(action.fields.get("body", "") or _payload_text(action.fields))
    lines = body.splitlines()
    short = "\n".join(lines[:BODY_LINES])
    truncated = len(lines) > BODY_LINES or len(short) > BODY_CHARS
    if len(short) > BODY_CHARS:
        short = short[:BODY_CHARS].rstrip()
    return ActionView(
        summary=action.summary,
        target=action.target,
        subject=str(action.fields.get("subject", "")),
        body=short + ("…" if truncated else ""),
        truncated=truncated,
    )


def _payload_text(fields: dict[str, Any]) -> str:
    payload = fields.get("payload")
    return str(payload.get("text", "")) if isinstance(payload, dict) else ""


def full_text(proposal: Proposal) -> str:
    """Every field of every action, for the 'full text' button when the card had to shorten a draft."""
    parts = [f"Proposal {proposal.id} (version {proposal.version}): {proposal.summary}"]
    for number, action in enumerate(proposal.actions, 1):
        parts.append(f"\n#{number} {action.summary}")
        parts += [f"{name}: {value}" for name, value in action.fields.items()]
    return "\n".join(parts)
