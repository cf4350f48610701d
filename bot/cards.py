"""What a proposal card says, independent of any platform: each channel's renderer lays this out in its own
markup (Block Kit, Telegram HTML). Pure: a proposal in, words out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.buttons import APPROVE, BUTTONS, EDIT, REJECT, RUN_REST, Button, Shown, Target
from orchestrator.handlers.later import LATER_KIND
from orchestrator.model import ActionStatus, Proposal, ProposalStatus, StagedAction
from orchestrator.outbound import Kind, Outbound, money
from orchestrator.policies import BUDGET_PLAYBOOK
from orchestrator.text import one_line

CARD_LINES = 12
"""A card keeps to this many lines before anything is expanded, so it fits a phone's screen with its buttons."""
PREVIEW_LINES = 3
"""The lines of a draft a card shows collapsed (Telegram's expandable quote shows about as many)."""
PREVIEW_CHARS = 300
QUOTE_CHARS = 3000
"""The most of a draft a card carries expanded; the Full text button shows the rest."""
LISTED = 3
"""Action lines on a card of several: more than this and the last line says how many more."""
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
    """The draft, up to QUOTE_CHARS (for an expandable quote)."""
    preview: str
    """Its first PREVIEW_LINES lines that say something (blank ones skipped), ending in … when there is more."""
    whole: bool
    """`body` is the whole draft: an expanded quote needs no Full text button."""
    more: bool = False
    """The preview leaves some of the draft out."""

    @property
    def cut(self) -> bool:
        return self.more or not self.whole


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
    notes: tuple[str, ...] = ()
    """The drafter's notes under the title, at most two lines: its warnings, then where the facts came from."""
    grantable: bool = False
    """Pending, and every action one a standing grant can cover (an MCP tool call): the Always allow button."""
    offers: tuple[str, ...] = ()
    """The offers not pressed yet, by their buttons' names (an inbox card's Mark read, Archive, Add as client)."""

    @property
    def version_line(self) -> str:
        """`v2 · revised: “warmer, mention the late fee”`: which version the card shows, and what made it."""
        return f"v{self.version}" + (f" · revised: “{self.revised}”" if self.revised else "")

    @property
    def truncated(self) -> bool:
        """A collapsed card (its previews) leaves something out: the Full text button."""
        several = len(self.actions) > 1 and any(a.body for a in self.actions)  # listed without their drafts
        return several or any(a.cut for a in self.actions)

    @property
    def listed(self) -> tuple[list[ActionView], int]:
        """The actions a card of several lists one line each, and how many more the last line counts."""
        if len(self.actions) <= LISTED:
            return self.actions, 0
        return self.actions[: LISTED - 1], len(self.actions) - LISTED + 1

    @property
    def high_risk(self) -> bool:
        return self.risk in HIGH_RISK

    def shows(self, state: Shown, *, truncated: bool | None = None) -> bool:
        """The card is in `state`: the buttons of that state are on it (`truncated`: as the channel cut it)."""
        states = {
            Shown.PENDING: self.pending,
            Shown.REVISABLE: self.revisable,
            Shown.REVISE_INSTEAD: self.revise_instead,
            Shown.REMINDER: self.reminder,
            Shown.UNDOABLE: self.undoable,
            Shown.UNSURE: self.unsure is not None,
            Shown.REST: self.rest,
            Shown.CANCELLABLE: self.cancellable,
            Shown.TRUNCATED: self.truncated if truncated is None else truncated,
            Shown.GRANTABLE: self.grantable,
            Shown.OFFERED: bool(self.offers),
        }
        return states[state]

    def buttons(self, *, truncated: bool | None = None) -> list[Button]:
        """The card's buttons, in the table's order (orchestrator/buttons.py)."""
        shown = [b for b in BUTTONS if b.shown is not None and self.shows(b.shown, truncated=truncated)]
        return [b for b in shown if self._fits(b)]

    def _fits(self, button: Button) -> bool:
        """An offer's button while it is offered; a card with no action of its own (an email shown) has nothing
        to approve or edit."""
        if button.shown is Shown.OFFERED:
            return button.name in self.offers
        return bool(self.actions) or button not in (APPROVE, EDIT)

    def label(self, button: Button) -> str:
        """A budget question's buttons, and Try again for a single action, say what they do."""
        labels = {APPROVE: self.approve_label, REJECT: self.reject_label, RUN_REST: self.rest_label}
        return labels.get(button, button.label)

    @property
    def target(self) -> Target:
        """What the card's buttons name: the proposal, the version shown, the action that may not have been sent."""
        return Target(self.id, version=self.version, index=self.unsure)


def view(message: Outbound) -> CardView | None:
    """The card for a message that carries a proposal; its text becomes the status line once decided."""
    proposal = message.proposal
    if proposal is None:
        return None
    pending = proposal.status is ProposalStatus.PENDING and message.kind in (Kind.CARD, Kind.REMINDER)
    title, *notes = proposal.summary.splitlines() or [""]
    return CardView(
        id=proposal.id,
        title=title,
        notes=(*_notes(notes), *_offered(proposal)),
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
        revisable=pending and proposal.playbook != BUDGET_PLAYBOOK and bool(proposal.actions),
        grantable=pending and bool(proposal.actions) and all(a.grant for a in proposal.actions),
        offers=tuple(name for name, offer in proposal.offers.items() if not offer.word),
        revised=one_line(proposal.revised, 120),
        revise_instead=message.kind is Kind.OUTCOME and _rejected_with_reason(proposal),
        cancellable=message.kind is Kind.OUTCOME and _scheduled(proposal),
        **_labels(proposal),
    )


def _notes(lines: list[str]) -> tuple[str, ...]:
    """Warnings on one line and sources on another, so a card's head stays two lines however many there are."""
    warnings = [line.strip() for line in lines if line.strip() and not line.startswith("📎")]
    sources = [line.removeprefix("📎 from:").strip() for line in lines if line.startswith("📎")]
    out = [one_line(" · ".join(warnings), 200)] if warnings else []
    return (*out, one_line("📎 from: " + " · ".join(sources), 200)) if sources else tuple(out)


def _offered(proposal: Proposal) -> tuple[str, ...]:
    """What became of each offer pressed: "✓ Marked read in INBOX", "… Archive" while it runs."""
    marks = {ActionStatus.APPLIED: "✓", ActionStatus.FAILED: "✗", ActionStatus.UNCERTAIN: "⚠"}
    pressed = [o for o in proposal.offers.values() if o.word]
    return tuple(one_line(f"{marks.get(o.status, '…')} {o.outcome or o.summary}", 200) for o in pressed)


def _rejected_with_reason(proposal: Proposal) -> bool:
    d = proposal.decision
    if proposal.status is not ProposalStatus.REJECTED or d is None or not d.reason:
        return False
    return proposal.playbook != BUDGET_PLAYBOOK and not proposal.revised_as


def _scheduled(proposal: Proposal) -> bool:
    """A request for later was scheduled and nothing has become of it yet (it ran, or was cancelled)."""
    later = [a for a in proposal.actions if a.kind == LATER_KIND and a.status is ActionStatus.APPLIED]
    return any(not a.word for a in later)


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
    if not proposal.actions:
        return {"reject_label": "Dismiss"}  # a card that shows an email: nothing to approve, only to put away
    if proposal.playbook != BUDGET_PLAYBOOK:
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
    """The action as its connector's preview put it (`StagedAction.subject`, `.body`): a card names no field."""
    body = action.body.strip("\n")
    shown, more = preview(body)
    return ActionView(
        summary=action.summary,
        target=action.target,
        subject=action.subject,
        body=body if len(body) <= QUOTE_CHARS else body[: QUOTE_CHARS - 1].rstrip() + "…",
        preview=shown,
        whole=len(body) <= QUOTE_CHARS,
        more=more,
    )


def preview(text: str, lines: int = PREVIEW_LINES, chars: int = PREVIEW_CHARS) -> tuple[str, bool]:
    """The first few lines of a draft that say something, ending in … when there is more (and whether there
    is): a blank line after "Hi Jane," would spend a line of the few a collapsed card shows."""
    said = [line for line in text.splitlines() if line.strip()]
    short, more = "\n".join(said[:lines]), len(said) > lines
    if len(short) > chars:
        short, more = short[:chars].rstrip(), True
    return (short.rstrip() + "…", True) if more else (short, False)


def with_target(action: ActionView, esc: Callable[[str], str], bold: Callable[[str], str]) -> str:
    """The summary with its target in bold: the field itself, whatever the drafter wrote around it."""
    summary, target = esc(action.summary), esc(action.target)
    if target and target in summary:
        return summary.replace(target, bold(target), 1)
    return f"{summary} → {bold(target)}" if target else summary


def full_text(proposal: Proposal) -> str:
    """Every field of every action, for the 'full text' button when the card had to shorten a draft."""
    parts = [f"Proposal {proposal.id} (version {proposal.version}): {proposal.summary}"]
    for number, action in enumerate(proposal.actions, 1):
        parts.append(f"\n#{number} {action.summary}")
        parts += [f"{name}: {value}" for name, value in action.fields.items()]
    return "\n".join(parts)


def stoppable(out: Outbound) -> bool:
    """A task's progress while it runs (not a revision's, not the last word): it shows the Stop button."""
    return out.kind is Kind.PROGRESS and bool(out.task_id) and not out.final and not out.text.startswith("Revising")
