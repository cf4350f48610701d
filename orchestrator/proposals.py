"""A proposal: the staged actions one task would take, versioned (an edit or a revision makes the next
version, and a decision names the version it was made on), with the moves of its own actions. Its decision,
undo and expiry are its task's (`Task.decide`, `Task.undo`, `Task.expire`): the task is the aggregate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from difflib import SequenceMatcher
from typing import Any

from orchestrator import events as ev
from orchestrator.actions import MOVED, REMEDIES, ActionStatus, Remedy, StagedAction
from orchestrator.actors import Actor, ChatRef, Decision, Revising, Verdict
from orchestrator.errors import InvalidTransition
from orchestrator.statuses import PROPOSAL_MOVES, ProposalStatus, TaskStatus, check
from orchestrator.statuses import clip as _clip


@dataclass
class Proposal:
    id: str
    task_id: str
    chat: ChatRef
    playbook: str
    summary: str
    actions: list[StagedAction]
    created_at: datetime
    risk: str = "low"
    version: int = 1
    cost_estimate_usd: float = 0.0
    cost_spent_usd: float = 0.0
    blocked_reason: str = ""
    status: ProposalStatus = ProposalStatus.PENDING
    decision: Decision | None = None
    hold_until: datetime | None = None
    remind_at: datetime | None = None
    expires_at: datetime | None = None
    reminders: int = 0
    answer_to: str = ""
    """The event the next outcome answers: the operator's last word on it (Send again, Mark as sent, Run the
    rest), else the decision's."""
    flagged: bool = False
    """The verifier doubted the draft (its doubt is in the summary)."""
    drafted: list[StagedAction] = field(default_factory=list)
    """The actions as the agent first drafted them, whatever /edit changed since: what shadow runs compare."""
    revising: Revising | None = None
    revised: str = ""
    """The feedback of the revision that made this version ("v2 · revised: “shorter”" on the card)."""
    revised_as: str = ""
    """A rejected proposal revised into a new one (Revise with this instead): that one's id."""
    offers: dict[str, StagedAction] = field(default_factory=dict)
    """The card's other actions, each behind a button of its own (an inbox card's Mark read, Archive, Add as
    client), by the button's name: a press stages it as a proposal of its own that the press approves
    (orchestrator/handlers/offers.py). Its `word` then names that proposal, its `outcome` what became of it."""
    parent: str = ""
    """For a proposal a press made of another card's offer: `<that proposal's id>:<the offer's name>`."""
    rev: int = 0

    def staged(self, at: datetime) -> ev.Event:
        return ev.ProposalStaged(
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            summary=_clip(self.summary),
            cost_usd=self.cost_spent_usd,
            proposal_status=self.status,
            task_status=TaskStatus.PROPOSED,
            detail={
                "version": self.version,
                "actions": [a.kind for a in self.actions],
                "risk": self.risk,
                "playbook": self.playbook,
                "flagged": self.flagged,
                **({"revised": self.revised} if self.revised else {}),
            },
        )

    def remind(self, at: datetime, next_at: datetime | None) -> ev.Event:
        self.reminders += 1
        self.remind_at = next_at
        return ev.ProposalReminded(
            at=at, task_id=self.task_id, proposal_id=self.id, detail={"reminder": self.reminders}
        )

    def snooze(self, actor: Actor, until: datetime, at: datetime) -> ev.Event:
        self.remind_at = until
        return ev.ProposalSnoozed(
            at=at, task_id=self.task_id, proposal_id=self.id, actor=actor.id, detail={"until": until.isoformat()}
        )

    def expire(self, at: datetime, reason: str) -> ev.ProposalExpired:
        """Only through its task (`Task.expire`), which moves with it."""
        check(f"proposal {self.id}", PROPOSAL_MOVES, self.status, ProposalStatus.EXPIRED)
        self.status, self.remind_at = ProposalStatus.EXPIRED, None
        return ev.ProposalExpired(
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            summary=_clip(reason),
            proposal_status=self.status,
            task_status=TaskStatus.EXPIRED,
        )

    def decide(self, decision: Decision) -> ev.ProposalApproved | ev.ProposalRejected:
        """Only through its task (`Task.decide`), which moves with it. First decision wins: a decided proposal
        raises `AlreadyDecided`-worthy `InvalidTransition`."""
        approve = decision.verdict is Verdict.APPROVE
        new = ProposalStatus.APPROVED if approve else ProposalStatus.REJECTED
        check(f"proposal {self.id}", PROPOSAL_MOVES, self.status, new)
        self.status, self.decision = new, decision
        cls: type[ev.ProposalApproved | ev.ProposalRejected] = ev.ProposalApproved if approve else ev.ProposalRejected
        return cls(
            at=decision.at,
            task_id=self.task_id,
            proposal_id=self.id,
            actor=decision.actor.id,
            summary=_clip(decision.reason),
            proposal_status=new,
            task_status=TaskStatus.APPROVED if approve else TaskStatus.REJECTED,
            detail={"version": decision.version, "by": decision.actor.label},
        )

    def undo(self, actor: Actor, at: datetime) -> ev.ProposalUndone:
        """Only through its task (`Task.undo`), which moves with it."""
        check(f"proposal {self.id}", PROPOSAL_MOVES, self.status, ProposalStatus.UNDONE)
        self.status = ProposalStatus.UNDONE
        return ev.ProposalUndone(
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            actor=actor.id,
            summary="undone before it ran",
            proposal_status=self.status,
            task_status=TaskStatus.UNDONE,
        )

    def edit(self, index: int, action: StagedAction, actor: Actor, at: datetime) -> ev.Event:
        """A new version with one action replaced; decisions name a version, so older cards can't approve it."""
        if self.status is not ProposalStatus.PENDING:
            raise InvalidTransition(f"proposal {self.id} is {self.status.value}; only a pending one can be edited")
        self.summary = retitled(self.summary, self.actions[index], action, alone=len(self.actions) == 1)
        self.actions[index] = action
        self.version += 1
        return ev.ProposalEdited(
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            actor=actor.id,
            summary=_clip(action.summary),
            detail={"version": self.version, "action_index": index},
        )

    def revise(self, actions: list[StagedAction], summary: str, cost_usd: float, at: datetime) -> ev.Event:
        """The agent's revision with the operator's feedback as the next version: older cards can't approve it."""
        ask = self.revising
        if self.status is not ProposalStatus.PENDING or ask is None or ask.version != self.version:
            raise InvalidTransition(f"proposal {self.id} is not waiting for a revision of version {self.version}")
        self.actions, self.summary, self.revised, self.revising = actions, summary, ask.feedback, None
        self.version, self.cost_spent_usd = self.version + 1, round(self.cost_spent_usd + cost_usd, 8)
        return ev.ProposalRevised(
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            actor=ask.actor.id,
            cost_usd=cost_usd,
            summary=_clip(f"revised: “{ask.feedback}”"),
            detail={"version": self.version, "by": ask.actor.label, "feedback": ask.feedback},
        )

    def scheduled(self, index: int, word: str, at: datetime, *, by: Actor | None = None, **detail: Any) -> ev.Event:
        """What became of a request this proposal scheduled for later: it ran, or (`by` an operator) it was
        cancelled. Said on its action, so a second press knows, and in the ledger."""
        action = self.actions[index]
        action.word = word
        cls = ev.LaterCancelled if by else ev.LaterFired
        return cls(
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            actor=by.id if by else None,
            summary=_clip(f"{action.summary} — {word}"),
            detail={"index": index, **detail},
        )

    def action_moved(self, index: int, new: ActionStatus, at: datetime, outcome: str = "") -> ev.Event:
        action = self.actions[index]
        action.move(new, f"{self.id}:{index}")
        action.outcome = outcome or action.outcome
        return MOVED[new](
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            action_index=index,
            action_status=new,
            summary=_clip(outcome or action.summary),
            detail={"kind": action.kind},
        )

    def remedy(self, index: int, remedy: Remedy, actor: Actor, at: datetime) -> ev.Event:
        """The operator's word on one action that did not finish; the ledger keeps who said it."""
        action, rule = self.actions[index], REMEDIES[remedy]
        said = action.hear(rule, actor.label, at, f"{self.id}:{index}")
        return rule.event(
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            actor=actor.id,
            action_index=index,
            action_status=action.status,
            summary=_clip(f"{action.summary} — {said}"),
            detail={"kind": action.kind, "attempt": action.attempt},
        )

    @property
    def settled(self) -> bool:
        """Every action reached an end: applied, failed or not run (one that may not have been sent has not)."""
        ends = (ActionStatus.APPLIED, ActionStatus.FAILED, ActionStatus.NOT_RUN)
        return all(a.status in ends for a in self.actions)


def retitled(summary: str, old: StagedAction, new: StagedAction, *, alone: bool) -> str:
    """The headline after an edit says what the card now does: the old values in it become the new ones, or, for
    a proposal of one action whose headline words a changed value differently, it becomes that action's own
    description; a change the action line doesn't show (a body) leaves the headline. The notes under it stay."""
    headline, *notes = summary.split("\n")
    changed = [(str(v), str(new.fields[k])) for k, v in old.fields.items() if new.fields.get(k) != v and str(v)]
    for before, after in changed:
        headline = headline.replace(before, after)
    shown = [before for before, _ in changed if before in old.summary]  # what the action line shows (not a body)
    if headline == summary.split("\n")[0] and old.summary != new.summary and not shown:
        headline = _as_the_line_changed(headline, old.summary, new.summary)  # a value shown in words: a time
    if alone and shown and headline == summary.split("\n")[0]:
        headline = new.summary
    return "\n".join([headline, *notes])


def _as_the_line_changed(headline: str, old: str, new: str) -> str:
    """The words the action line changed ("Wed 9 Dec 12:09" → "Thu 10 Dec 12:25"), changed in the headline too."""
    before, after = old.split(" "), new.split(" ")
    for op, i1, i2, j1, j2 in SequenceMatcher(None, before, after).get_opcodes():
        if op == "replace" and (was := " ".join(before[i1:i2])) in headline:
            headline = headline.replace(was, " ".join(after[j1:j2]))
    return headline
